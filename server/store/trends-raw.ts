/**
 * Trends and filter values counted from the violations themselves: the queries the
 * server ran before roll-ups (issue 18), kept as the answer while roll-ups are not counted
 * in the asked time zone (a store made before migration 15, a rebuild under way, a zone
 * other than the clinic's) and as the reference the roll-ups are tested against.
 * Each is a scan of every violation in the range.
 */
import type { FilterValues, Trends } from '../../shared/api-types.js';
import type { Db } from './db.js';
import type { People } from './people.js';
import { foldDays } from './rows.js';

/**
 * Per-day counts by app and in-call minutes, with days in the clinic's time zone: SQL
 * groups into 15-minute buckets (exact for every real UTC offset, half hours included)
 * and each bucket is mapped to its local date here.
 */
export function trendsFromRows(db: Db, now: number, since: number, until: number, timezone: string): Trends {
  const BUCKET = 900_000;
  const dayRows = db.prepare<[number, number, number], { bucket: number; app: string; n: number; incall: number }>(
    `SELECT started_at / ${BUCKET} AS bucket, app, count(*) AS n,
       sum(CASE WHEN state = 'in-call' THEN (coalesce(ended_at, ?) - started_at) ELSE 0 END) / 60000.0 AS incall
     FROM violations WHERE started_at >= ? AND started_at < ? GROUP BY bucket, app`,
  ).all(now, since, until);
  const top = (col: 'site' | 'hostname') => db.prepare<[number, number], { key: string | null; count: number }>(
    `SELECT ${col} AS key, count(*) AS count FROM violations WHERE started_at >= ? AND started_at < ? GROUP BY ${col} ORDER BY count DESC LIMIT 10`,
  ).all(since, until);
  const n = db.prepare<[number, number], { violations: number; shown: number; clicked: number }>(
    'SELECT count(*) AS violations, count(nudge_shown_at) AS shown, count(nudge_clicked_at) AS clicked FROM violations WHERE started_at >= ? AND started_at < ?',
  ).get(since, until)!;
  return {
    days: foldDays(dayRows, timezone, BUCKET),
    timezone,
    topSites: top('site').map((r) => ({ site: r.key ?? '(no site)', count: r.count })),
    topWorkstations: top('hostname').map((r) => ({ hostname: r.key ?? '', count: r.count })),
    nudges: n,
  };
}

/** Distinct values for the dashboard's filter lists (most frequent first where capped). */
export function filterValuesFromRows(db: Db, people: Pick<People, 'show'>): FilterValues {
  const distinct = (col: string, limit: number) => db.prepare<[], { v: string }>(`SELECT ${col} AS v FROM violations WHERE ${col} IS NOT NULL GROUP BY ${col} ORDER BY count(*) DESC LIMIT ${limit}`).all().map((r) => r.v).sort();
  const users = [...new Set(distinct('user', 500).map((u) => people.show(u).user ?? ''))].filter(Boolean).sort();
  return { apps: distinct('app', 100), sites: distinct('site', 500), hostnames: distinct('hostname', 500), users };
}

/** Violations started in [since, until): with a claimed exception (by decision) and without one. */
export function exceptionCountsFromRows(db: Db, since: number, until: number): { claimed: number; accepted: number; rejected: number; pending: number; unexplained: number } {
  const r = db.prepare<[number, number], { total: number; claimed: number; accepted: number; rejected: number }>(
    `SELECT count(*) AS total, count(e.violation_id) AS claimed,
            coalesce(sum(e.decision = 'accepted'), 0) AS accepted, coalesce(sum(e.decision = 'rejected'), 0) AS rejected
     FROM violations v LEFT JOIN exceptions e ON e.agent_id = v.agent_id AND e.violation_id = v.id
     WHERE v.started_at >= ? AND v.started_at < ?`,
  ).get(since, until)!;
  return { claimed: r.claimed, accepted: r.accepted, rejected: r.rejected, pending: r.claimed - r.accepted - r.rejected, unexplained: r.total - r.claimed };
}
