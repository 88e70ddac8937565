/**
 * Revealing a clinician's name behind a pseudonym: one violation at a time, with a reason,
 * recorded in `reveals` (shown in that violation's timeline: who, when, why; never the
 * name) in the same transaction that reads the name. The API audits it too. A name the
 * workstation never sent (a keyed hash: the policy switched user names off) or one erased
 * by a data-subject request cannot be revealed, and the answer says which.
 */
import type { Db } from './db.js';
import type { People } from './people.js';
import { revealable } from './rows.js';

export type RevealResult =
  | { ok: true; user: string; pseudonym: string; at: number }
  | { ok: false; why: 'not_found' | 'no_user' | 'hashed' | 'erased'; pseudonym: string | null };

export function createRevealStore(db: Db, people: People, now: () => number = Date.now) {
  const userOf = db.prepare<[string, string], { user: string | null }>('SELECT user FROM violations WHERE agent_id = ? AND id = ?');
  const insert = db.prepare('INSERT INTO reveals (agent_id, violation_id, pseudonym, by, at, reason) VALUES (?, ?, ?, ?, ?, ?)');
  return {
    reveal: db.transaction((agentId: string, id: string, by: string, reason: string): RevealResult => {
      const r = revealable(userOf.get(agentId, id)?.user, people.pseudonym);
      if (!r.ok) return r;
      const { user, pseudonym } = r;
      const at = now();
      insert.run(agentId, id, pseudonym, by, at, reason);
      return { ok: true, user, pseudonym, at };
    }).immediate, // reads, then writes: see violations.ts ingest
  };
}

export type RevealStore = ReturnType<typeof createRevealStore>;
