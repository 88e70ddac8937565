/**
 * Clinicians as the dashboard, the API and the SIEM see them: a stable pseudonym per person
 * (`clinician-` and 8 hex digits of an HMAC-SHA256 of the reported user name, keyed with a
 * secret kept in the store), unless the clinic has chosen to show names (`--show-names`).
 *
 * What a violation's `user` column may hold, and how each is shown:
 * - a user name as the agent reported it (`CLINIC\dr.lee`, `dr.lee`): its pseudonym, or
 *   the name with --show-names; the name can be revealed (audited, with a reason);
 * - `h:...`: the workstation's policy switched user names off, and the agent sent only a
 *   keyed hash: pseudonymised like a name, but it can never be revealed (the name never
 *   reached the server);
 * - `x:erased`: erased by a data-subject request; shown as `erased`.
 * Neither prefix can begin a real account name: `:` is not allowed in Windows, macOS or
 * Linux user names.
 *
 * Names are compared as the OS does on Windows (case-insensitively, Unicode NFC): the same
 * person reported as `CLINIC\Dr.Lee` and `clinic\dr.lee` by two agents is one pseudonym.
 * The key is in the store, not beside it, so the server, every CLI command and (later)
 * every instance on one database compute the same pseudonyms, and a restored backup keeps
 * them; anyone who can read the store can read the names anyway.
 */
import type { Db } from './db.js';
import { pseudonymiser } from './rows.js';

export const ERASED = 'x:erased';
export const HASHED_PREFIX = 'h:';
export type UserKind = 'pseudonym' | 'name' | 'hashed' | 'erased';

export interface ShownUser {
  user: string | null;
  userKind: UserKind | null;
}

export const isErased = (user: string | null | undefined): boolean => user?.startsWith('x:') === true;
export const isHashed = (user: string | null | undefined): boolean => user?.startsWith(HASHED_PREFIX) === true;

/** How two spellings of one account are made one: NFC, trimmed, lower case. */
export const canonicalName = (name: string): string => name.normalize('NFC').trim().toLowerCase();

/**
 * The account part of a reported name (`CLINIC\dr.lee` -> `dr.lee`, `dr.lee@clinic.example`
 * -> `dr.lee`): what appears in home-folder paths and may be a dashboard login.
 */
export function accountPart(name: string): string {
  const afterDomain = name.slice(name.lastIndexOf('\\') + 1);
  const at = afterDomain.indexOf('@');
  return at > 0 ? afterDomain.slice(0, at) : afterDomain;
}

// Home folders in evidence lines (a camera held by C:\Users\dr.lee\...\Zoom.exe) name the
// clinician: with pseudonyms on, the folder name is hidden.
const HOME = /([\\/](?:users|home)[\\/])([^\\/\s)]+)/gi;
export const hideHomeFolders = (line: string): string => line.replace(HOME, '$1…');

export function createPeople(db: Db, opts: { showNames?: boolean; now?: () => number } = {}) {
  const now = opts.now ?? Date.now;
  const showNames = opts.showNames ?? false;
  const key = db.prepare<[], { key: string }>('SELECT key FROM privacy_key WHERE id = 1').get()?.key;
  if (!key) throw new Error('privacy_key missing: store migration 9 did not run');
  const shown = pseudonymiser(key, showNames);
  const pseudonym = shown.pseudonym;
  const remember = db.prepare('INSERT OR IGNORE INTO people (name, pseudonym, first_seen) VALUES (?, ?, ?)');
  const spellings = db.prepare<[string], { name: string }>('SELECT name FROM people WHERE pseudonym = ?');

  /** Records a reported name (so a pseudonym filter finds it); cheap, called per event with a user. */
  function see(name: string | null | undefined): void {
    if (!name || isErased(name)) return;
    remember.run(name, pseudonym(name), now());
  }

  // Stores made before migration 9 hold names the people table has not seen: once.
  const state = db.prepare<[], { backfilled: number }>('SELECT backfilled FROM privacy_key WHERE id = 1').get();
  if (state?.backfilled === 0) {
    db.transaction(() => {
      for (const table of ['violations', 'nudges']) {
        const names = db.prepare<[], { user: string }>(`SELECT DISTINCT user FROM ${table} WHERE user IS NOT NULL`).all();
        for (const n of names) see(n.user);
      }
      db.prepare('UPDATE privacy_key SET backfilled = 1 WHERE id = 1').run();
    })();
  }

  return {
    ...shown,
    see,
    /** Every stored spelling with this pseudonym (names and hashes). */
    namesOf: (p: string): string[] => spellings.all(p).map((r) => r.name),
  };
}

export type People = ReturnType<typeof createPeople>;
