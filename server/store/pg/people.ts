/**
 * Clinicians' pseudonyms on PostgreSQL: the same derivation as SQLite's (people.ts:
 * `clinician-` and 8 hex of HMAC-SHA256 of the canonical name, keyed with the store's own
 * key), so every instance on one database, and a store copied from SQLite, shows the same
 * pseudonyms. Only `see` and `namesOf` touch the database; the rest is the shared logic.
 */
import { isErased } from '../people.js';
import { pseudonymiser } from '../rows.js';
import type { PgDb, Queryable } from './db.js';

export async function createPgPeople(db: PgDb, opts: { showNames?: boolean; now?: () => number } = {}) {
  const now = opts.now ?? Date.now;
  const showNames = opts.showNames ?? false;
  const { rows } = await db.query<{ key: string }>('SELECT key FROM privacy_key WHERE id = 1');
  const key = rows[0]?.key;
  if (!key) throw new Error('privacy_key missing: PostgreSQL store migration 1 did not run');
  const shown = pseudonymiser(key, showNames);
  const pseudonym = shown.pseudonym;

  /** Records reported names (so a pseudonym filter finds them), in the caller's transaction. */
  async function see(q: Queryable, names: Array<string | null | undefined>): Promise<void> {
    const fresh = [...new Set(names.filter((n): n is string => !!n && !isErased(n)))];
    if (fresh.length === 0) return;
    await q.query(
      'INSERT INTO people (name, pseudonym, first_seen) SELECT n, p, $3 FROM unnest($1::text[], $2::text[]) AS u(n, p) ON CONFLICT (name) DO NOTHING',
      [fresh, fresh.map(pseudonym), now()],
    );
  }

  return {
    ...shown,
    see,
    namesOf: async (p: string): Promise<string[]> => (await db.query<{ name: string }>('SELECT name FROM people WHERE pseudonym = $1', [p])).rows.map((r) => r.name),
  };
}

export type PgPeople = Awaited<ReturnType<typeof createPgPeople>>;
