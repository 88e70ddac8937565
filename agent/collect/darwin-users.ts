/**
 * macOS user names. `/etc/passwd` there holds only system accounts (clinicians showed as
 * `uid:501`); the accounts live in Directory Services. One `dscl . -list /Users UniqueID`
 * maps every local account (mobile accounts of a directory-bound Mac included) and is
 * cached; a uid it does not know (a network account without a local record) is asked of
 * `id -un UID` once, and a new account is picked up by reloading at most once a minute.
 */
import type { DarwinRunner } from './darwin-run.js';

export const DSCL_FILE = '/usr/bin/dscl';
export const DSCL_ARGS = ['.', '-list', '/Users', 'UniqueID'];

/** "name    501" per line; a name may hold spaces, the uid is the last column. */
export function parseDsclUsers(text: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const line of text.split('\n')) {
    const m = /^(.+?)\s+(-?\d+)\s*$/.exec(line);
    if (m && !out.has(Number(m[2]))) out.set(Number(m[2]), m[1]!);
  }
  return out;
}

export function createDarwinUserNames(run: DarwinRunner, now: () => number = Date.now) {
  let names = new Map<number, string>();
  let loadedAt = -Infinity;
  const askedId = new Map<number, string | null>();
  return async function userName(uid: number): Promise<string> {
    if (!names.has(uid) && now() - loadedAt > 60_000) {
      loadedAt = now();
      try {
        names = parseDsclUsers(await run(DSCL_FILE, DSCL_ARGS));
      } catch {
        // Directory Services not answering: keep what we had, fall back below.
      }
    }
    const known = names.get(uid);
    if (known) return known;
    if (!askedId.has(uid)) {
      let name: string | null = null;
      try {
        name = (await run('/usr/bin/id', ['-un', String(uid)])).trim() || null;
      } catch {
        // no such account (a process of a deleted user)
      }
      askedId.set(uid, name);
    }
    return askedId.get(uid) ?? `uid:${uid}`;
  };
}
