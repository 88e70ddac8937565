/**
 * Clinician exceptions on PostgreSQL (exceptions.ts): one row per violation, the lead's
 * decision, counts. A claim or decision moves its violation's roll-ups in its transaction,
 * under the agent's ingest lock (so it and the violation's first events never miss each other).
 */
import type { ViolationException } from '../../../shared/api-types.js';
import type { NudgeOutcome } from '../../../shared/protocol.js';
import { exceptionLabel as labelOf, exceptionToApi as toApi, type ExceptionRow as Row } from '../rows.js';
import { exceptionCountsFromTally } from '../trends.js';
import type { PgDb } from './db.js';
import type { PgRollups } from './rollups.js';
import { pgTallyRange } from './tally.js';
import { AGENT_LOCK } from './violations.js';

export function createPgExceptionStore(db: PgDb, rollups: PgRollups, now: () => number = Date.now) {
  const getRow = async (agentId: string, violationId: string) => (await db.query<Row>('SELECT * FROM exceptions WHERE agent_id = $1 AND violation_id = $2', [agentId, violationId])).rows[0];
  return {
    /** The `exception` outcomes of a nudges batch (idempotent: a resent batch changes nothing). */
    ingest: (agentId: string, nudges: NudgeOutcome[]): Promise<number> => {
      const claims = nudges.filter((x) => x.outcome === 'exception');
      if (claims.length === 0) return Promise.resolve(0);
      return db.tx(async (c) => {
        await c.query(AGENT_LOCK, [agentId]);
        return rollups.track(c, [...new Set(claims.map((x) => x.violationId))].map((id) => [agentId, id] as const), async () => {
          let n = 0;
          for (const x of claims) {
            const at = Date.parse(x.at);
            const until = x.until ? Date.parse(x.until) : at;
            const r = await c.query(
              `INSERT INTO exceptions (agent_id, violation_id, outcome_id, app, "user", reason, label, claimed_at, until)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
               ON CONFLICT (agent_id, violation_id) DO UPDATE SET outcome_id = excluded.outcome_id, reason = excluded.reason, label = excluded.label,
                 claimed_at = excluded.claimed_at, until = excluded.until
               WHERE exceptions.decision IS NULL AND exceptions.outcome_id <> excluded.outcome_id AND excluded.claimed_at >= exceptions.claimed_at`,
              [agentId, x.violationId, x.id, x.app, x.user ?? null, x.reason ?? 'unknown', labelOf(x).slice(0, 200), at, until],
            );
            n += r.rowCount ?? 0;
          }
          return n;
        });
      });
    },
    async get(agentId: string, violationId: string): Promise<ViolationException | null> {
      const r = await getRow(agentId, violationId);
      return r ? toApi(r) : null;
    },
    async forViolations(items: Array<{ agentId: string; id: string }>): Promise<Map<string, ViolationException>> {
      const out = new Map<string, ViolationException>();
      if (items.length === 0) return out;
      const { rows } = await db.query<Row>(
        'SELECT e.* FROM exceptions e JOIN unnest($1::text[], $2::text[]) AS k(a, v) ON e.agent_id = k.a AND e.violation_id = k.v',
        [items.map((i) => i.agentId), items.map((i) => i.id)],
      );
      for (const r of rows) out.set(`${r.agent_id}\u0000${r.violation_id}`, toApi(r));
      return out;
    },
    async decide(agentId: string, violationId: string, decision: 'accepted' | 'rejected', by: string, note: string): Promise<ViolationException | null> {
      const row = await db.tx(async (c) => {
        await c.query(AGENT_LOCK, [agentId]);
        return rollups.track(c, [[agentId, violationId]], async () => (await c.query<Row>(
          'UPDATE exceptions SET decision = $1, decided_by = $2, decided_at = $3, note = $4 WHERE agent_id = $5 AND violation_id = $6 RETURNING *', [decision, by, now(), note, agentId, violationId],
        )).rows[0]);
      });
      return row ? toApi(row) : null;
    },
    async counts(since: number, until: number): Promise<{ claimed: number; accepted: number; rejected: number; pending: number; unexplained: number }> {
      // Totals need no day: the roll-ups' own zone splits the range into whole days and ends.
      const tz = await rollups.readyTz();
      const t = tz === null ? null : await pgTallyRange(db, tz, since, until, tz, now());
      if (t) return exceptionCountsFromTally(t);
      const r = (await db.query<{ total: number; claimed: number; accepted: number; rejected: number }>(
        `SELECT count(*) AS total, count(e.violation_id) AS claimed,
                count(*) FILTER (WHERE e.decision = 'accepted') AS accepted, count(*) FILTER (WHERE e.decision = 'rejected') AS rejected
         FROM violations v LEFT JOIN exceptions e ON e.agent_id = v.agent_id AND e.violation_id = v.id
         WHERE v.started_at >= $1 AND v.started_at < $2`, [since, until],
      )).rows[0]!;
      return { claimed: r.claimed, accepted: r.accepted, rejected: r.rejected, pending: r.claimed - r.accepted - r.rejected, unexplained: r.total - r.claimed };
    },
  };
}
