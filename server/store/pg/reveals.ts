/** Revealing a clinician's name on PostgreSQL (reveals.ts): read the name and record why, in one transaction. */
import { revealable } from '../rows.js';
import type { RevealResult } from '../reveals.js';
import type { PgDb } from './db.js';
import type { PgPeople } from './people.js';

export function createPgRevealStore(db: PgDb, people: PgPeople, now: () => number = Date.now) {
  return {
    reveal: (agentId: string, id: string, by: string, reason: string): Promise<RevealResult> => db.tx(async (c) => {
      const row = (await c.query<{ user: string | null }>('SELECT "user" FROM violations WHERE agent_id = $1 AND id = $2', [agentId, id])).rows[0];
      const r = revealable(row?.user, people.pseudonym);
      if (!r.ok) return r;
      const { user, pseudonym } = r;
      const at = now();
      await c.query('INSERT INTO reveals (agent_id, violation_id, pseudonym, "by", at, reason) VALUES ($1, $2, $3, $4, $5, $6)', [agentId, id, pseudonym, by, at, reason]);
      return { ok: true, user, pseudonym, at };
    }),
  };
}
