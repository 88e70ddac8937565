/**
 * Retention on PostgreSQL: the same tables, cut-offs and order as retention.ts, each step
 * a short transaction of at most `batch` rows (a year of rows goes without one long lock),
 * with a turn of the event loop between batches. Run once per cluster: the caller wraps it
 * in `jobs.runExclusive('retention', ...)`.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { RETENTION_BATCH, type Pruned, type RetentionOptions } from '../retention.js';
import type { RetentionStore } from '../types.js';
import { LOCKOUT, SESSION } from '../users.js';
import type { PgDb } from './db.js';
import { PG_COUNTED, type PgRollups } from './rollups.js';
import type { CountedRow } from '../rollups.js';

async function drain(step: () => Promise<number>): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await step();
    if (n <= 0) return total;
    total += n;
    await nextTurn();
  }
}

/** `rollups`: a deleted violation (or claim) leaves the roll-ups in the same transaction; a day's rows go with its last violation. */
export function createPgRetention(db: PgDb, rollups: PgRollups): RetentionStore {
  /** Ended violations older than `days`, and open ones silent that long, with what hangs off them. */
  async function pruneViolations(days: number, now = Date.now(), batch = RETENTION_BATCH): Promise<number> {
    const cutoff = now - days * 86_400_000;
    return drain(() => db.tx(async (c) => {
      // Locked (SKIP LOCKED leaves rows ingest holds), then read for what they count in the roll-ups (rollups.ts: lock, then read).
      const locked = await c.query<{ seq: number }>(
        `SELECT seq FROM violations WHERE seq IN (
           SELECT seq FROM (SELECT seq FROM violations WHERE ended_at IS NOT NULL AND ended_at < $1
                            UNION ALL SELECT seq FROM violations WHERE ended_at IS NULL AND updated_at < $1 LIMIT $2) s)
         ORDER BY seq FOR UPDATE SKIP LOCKED`,
        [cutoff, batch],
      );
      if (locked.rows.length === 0) return 0;
      const picked = await c.query<CountedRow>(`${PG_COUNTED} WHERE v.seq = ANY($1::bigint[])`, [locked.rows.map((r) => r.seq)]);
      // Re-checked at delete time (a late event may have refreshed a row before the pick locked it).
      const { rows } = await c.query<{ id: string; agent_id: string; seq: number }>(
        `DELETE FROM violations WHERE seq = ANY($2::bigint[]) AND ((ended_at IS NOT NULL AND ended_at < $1) OR (ended_at IS NULL AND updated_at < $1))
         RETURNING id, agent_id, seq`,
        [cutoff, picked.rows.map((r) => r.seq)],
      );
      const gone = new Set(rows.map((r) => r.seq));
      await rollups.subtract(c, picked.rows.filter((r) => gone.has(r.seq)));
      if (rows.length === 0) return 0;
      const keys = [rows.map((r) => r.agent_id), rows.map((r) => r.id)];
      for (const t of ['events', 'nudges', 'reviews', 'reveals']) {
        await c.query(`DELETE FROM ${t} x USING unnest($1::text[], $2::text[]) AS k(a, v) WHERE x.agent_id = k.a AND x.violation_id = k.v`, keys);
      }
      return rows.length;
    }));
  }

  /** Exception claims older than `cutoff`, in batches, each moving its violation's roll-ups (a claim of a violation still kept too). */
  const pruneClaims = (cutoff: number, batch: number) => drain(() => db.tx(async (c) => {
    const { rows } = await c.query<{ agent_id: string; violation_id: string }>('SELECT agent_id, violation_id FROM exceptions WHERE claimed_at < $1 ORDER BY agent_id, violation_id LIMIT $2', [cutoff, batch]);
    if (rows.length === 0) return 0;
    return rollups.track(c, rows.map((r) => [r.agent_id, r.violation_id] as const), async () => (await c.query(
      'DELETE FROM exceptions x USING unnest($1::text[], $2::text[]) AS k(a, v) WHERE x.agent_id = k.a AND x.violation_id = k.v AND x.claimed_at < $3',
      [rows.map((r) => r.agent_id), rows.map((r) => r.violation_id), cutoff],
    )).rowCount ?? 0);
  }));

  /** A batched delete by key for one table (table and clause text are fixed here, never from a request). */
  const byTime = (table: string, key: string, where: string, batch: number) => (...args: number[]) =>
    drain(async () => (await db.query(`DELETE FROM ${table} WHERE (${key}) IN (SELECT ${key} FROM ${table} WHERE ${where} LIMIT ${batch})`, args)).rowCount ?? 0);

  async function run(opts: RetentionOptions, now = Date.now(), batch = RETENTION_BATCH): Promise<Pruned> {
    const cutoff = now - opts.days * 86_400_000;
    const out = {} as Pruned;
    out.violations = await pruneViolations(opts.days, now, batch);
    out.events = await byTime('events', 'agent_id, id', 'at < $1', batch)(cutoff);
    out.nudges = await byTime('nudges', 'agent_id, id', 'at < $1', batch)(cutoff);
    out.reviews = await byTime('reviews', 'seq', 'at < $1', batch)(cutoff);
    out.reveals = await byTime('reveals', 'seq', 'at < $1', batch)(cutoff);
    // A claim follows its violation (trigger in migration 001); one whose violation never arrived goes by its own age.
    out.exceptions = await pruneClaims(cutoff, batch);
    out.sessions = await byTime('sessions', 'id_hash', 'expires_at < $1 OR last_seen < $2', batch)(now, now - SESSION.idleMs);
    out.loginFailures = await byTime('login_failures', 'id', 'at < $1', batch)(now - LOCKOUT.windowMs);
    out.loginKnown = await byTime('login_known', 'user_name, ip', 'last_ok < $1', batch)(now - LOCKOUT.knownMs);
    out.people = await byTime('people', 'name', 'NOT EXISTS (SELECT 1 FROM violations v WHERE v."user" = people.name) AND NOT EXISTS (SELECT 1 FROM nudges n WHERE n."user" = people.name) AND first_seen < $1', batch)(now - 3600_000);
    out.audit = await byTime('audit', 'seq', 'at < $1', batch)(now - opts.auditDays * 86_400_000);
    return out;
  }

  return { run, pruneViolations };
}
