/**
 * Process owner name (Event.user) -> uid and gid, with `id` (works with local, LDAP and
 * directory accounts on Linux and macOS alike). The collector writes `uid:N` when it could
 * not name the owner. Answers are cached; a failure is retried on the next nudge.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Owner } from './rendezvous.js';
import { systemTool } from '../system-tools.js';

const run = promisify(execFile);

export function createUserResolver(idCommand?: string) {
  const cache = new Map<string, Owner>();
  async function idOf(flag: '-u' | '-g', name: string): Promise<number | null> {
    try {
      // Looked up on first use, not at creation: the nudger makes a resolver on every OS, and
      // Windows has no `id` (systemTool throws there); Windows nudges go by account name instead
      // (ipc-client.ts, nudge/windows.ts) and never call this.
      const { stdout } = await run(idCommand ?? systemTool('id'), [flag, '--', name], { timeout: 3000 });
      const n = Number(stdout.trim());
      return Number.isInteger(n) && n >= 0 ? n : null;
    } catch {
      return null;
    }
  }
  return async function resolve(user: string): Promise<Owner | null> {
    const hit = cache.get(user);
    if (hit) return hit;
    const bare = /^uid:(\d+)$/.exec(user);
    const uid = bare ? Number(bare[1]) : await idOf('-u', user);
    if (uid === null) return null;
    const gid = bare ? -1 : ((await idOf('-g', user)) ?? -1);
    const owner = { uid, gid };
    cache.set(user, owner);
    return owner;
  };
}
