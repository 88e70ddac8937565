/** Revealing a clinician's name on PostgreSQL (reveals.ts): read the name and record why, in one transaction. */
import { isErased, isHashed } from '../people.js';
import type { RevealResult } from '../reveals.js';
import type { PgDb } from './db.js';
import type { PgPeople } from './people.js';

export function createPgRevealStore(db: PgDb, people: PgPeople, now: () => number = Date.now) {
  return {
    reveal: (agentId: string, id: string, by: string, reason: string): Promise<RevealResult> => db.tx(async (c) => {
      const row = (await c.query<{ user: string | null }>('SELECT "user" FROM violations WHERE agent_id = $1 AND id = $2', [agentId, id])).rows[0];
      if (!row) return { ok: false, why: 'not_found', pseudonym: null };
      const user = row.user;
      if (user === null) return { ok: false, why: 'no_user', pseudonym: null };
      if (isErased(user)) return { ok: false, why: 'erased', pseudonym: null };
      const pseudonym = people.pseudonym(user);
      if (isHashed(user)) return { ok: false, why: 'hashed', pseudonym };
      const at = now();
      await c.query('INSERT INTO reveals (agent_id, violation_id, pseudonym, "by", at, reason) VALUES ($1, $2, $3, $4, $5, $6)', [agentId, id, pseudonym, by, at, reason]);
      return { ok: true, user, pseudonym, at };
    }),
  };
}
