/**
 * Clinician exceptions on the server (issue 14): the `exception` nudge outcomes agents send
 * (shared/protocol.ts), one row per violation (a later claim for the same violation, while
 * undecided, replaces the reason and window), the lead's accept/reject, and the counts that
 * trends and the report show apart from unexplained use.
 */
import type { ViolationException } from '../../shared/api-types.js';
import { exceptionLabel as labelOf, exceptionToApi as toApi, type ExceptionRow as Row } from './rows.js';
import type { NudgeOutcome } from '../../shared/protocol.js';
import type { Db } from './db.js';
import { createRollups, type Rollups } from './rollups.js';
import { countsRange } from './tally.js';
import { exceptionCountsFromRows } from './trends-raw.js';

export function createExceptionStore(db: Db, now: () => number = Date.now, rollups: Rollups = createRollups(db, now)) {
  const upsert = db.prepare(
    `INSERT INTO exceptions (agent_id, violation_id, outcome_id, app, user, reason, label, claimed_at, until)
     VALUES (@agentId, @violationId, @id, @app, @user, @reason, @label, @at, @until)
     ON CONFLICT (agent_id, violation_id) DO UPDATE SET outcome_id = excluded.outcome_id, reason = excluded.reason, label = excluded.label,
       claimed_at = excluded.claimed_at, until = excluded.until
     WHERE exceptions.decision IS NULL AND exceptions.outcome_id <> excluded.outcome_id AND excluded.claimed_at >= exceptions.claimed_at`,
  );
  const getRow = db.prepare<[string, string], Row>('SELECT * FROM exceptions WHERE agent_id = ? AND violation_id = ?');
  const decideRow = db.prepare('UPDATE exceptions SET decision = ?, decided_by = ?, decided_at = ?, note = ? WHERE agent_id = ? AND violation_id = ?');

  return {
    /** The `exception` outcomes of a nudges batch (idempotent: a resent batch changes nothing). */
    ingest: db.transaction((agentId: string, nudges: NudgeOutcome[]): number => {
      let n = 0;
      for (const x of nudges) {
        if (x.outcome !== 'exception') continue;
        const at = Date.parse(x.at);
        const until = x.until ? Date.parse(x.until) : at;
        const row = { agentId, violationId: x.violationId, id: x.id, app: x.app, user: x.user ?? null, reason: x.reason ?? 'unknown', label: labelOf(x).slice(0, 200), at, until };
        n += rollups.track(agentId, x.violationId, () => upsert.run(row).changes);
      }
      return n;
    }).immediate,
    get(agentId: string, violationId: string): ViolationException | null {
      const r = getRow.get(agentId, violationId);
      return r ? toApi(r) : null;
    },
    /** Exceptions of many violations at once (a feed page). */
    forViolations(items: Array<{ agentId: string; id: string }>): Map<string, ViolationException> {
      const out = new Map<string, ViolationException>();
      if (items.length === 0) return out;
      const rows = db.prepare<string[], Row>(`SELECT * FROM exceptions WHERE (agent_id, violation_id) IN (VALUES ${items.map(() => '(?, ?)').join(', ')})`).all(...items.flatMap((i) => [i.agentId, i.id]));
      for (const r of rows) out.set(`${r.agent_id}\u0000${r.violation_id}`, toApi(r));
      return out;
    },
    decide(agentId: string, violationId: string, decision: 'accepted' | 'rejected', by: string, note: string): ViolationException | null {
      const changed = db.transaction(() => rollups.track(agentId, violationId, () => decideRow.run(decision, by, now(), note, agentId, violationId).changes)).immediate();
      if (changed === 0) return null;
      return toApi(getRow.get(agentId, violationId)!);
    },
    /** Violations started in [since, until): with a claimed exception (by decision) and without one. */
    counts(since: number, until: number): { claimed: number; accepted: number; rejected: number; pending: number; unexplained: number } {
      // Totals need no day: the roll-ups' own zone splits the range into whole days and ends.
      const state = rollups.state();
      return countsRange(db, state.ready ? state.tz : null, since, until) ?? exceptionCountsFromRows(db, since, until);
    },
  };
}

export type ExceptionStore = ReturnType<typeof createExceptionStore>;
