/**
 * Report schedules, their once-per-period claim rows, and a report's figures on PostgreSQL
 * (reports/store.ts and reports/content.ts have the rules). A claim is one INSERT ... ON
 * CONFLICT DO NOTHING, else one UPDATE whose WHERE (lease run out, not sent) PostgreSQL
 * re-checks under the row lock: of two instances, exactly one gets the row.
 */
import { randomUUID } from 'node:crypto';
import type { Every } from '../../reports/period.js';
import { figuresFromTally, MAX_REPORT_ATTEMPTS, type ReportSchedule } from '../../reports/store.js';
import type { ReportFigures, ReportStore } from '../types.js';
import type { PgDb } from './db.js';
import type { PgRollups } from './rollups.js';
import { pgTallyRange } from './tally.js';

interface Row { id: string; every: string; site: string; emails: string; created_at: number; created_by: string }
const toSchedule = (r: Row): ReportSchedule => ({ id: r.id, every: r.every as Every, site: r.site, emails: JSON.parse(r.emails) as string[], createdAt: r.created_at, createdBy: r.created_by });

export function createPgReportStore(db: PgDb, rollups: PgRollups, now: () => number = Date.now): ReportStore {
  return {
    async add(s: Omit<ReportSchedule, 'id' | 'createdAt'>): Promise<ReportSchedule> {
      const created = { ...s, id: randomUUID().slice(0, 8), createdAt: now() };
      await db.query('INSERT INTO report_schedules (id, every, site, emails, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6)',
        [created.id, created.every, created.site, JSON.stringify(created.emails), created.createdAt, created.createdBy]);
      return created;
    },
    list: async (): Promise<ReportSchedule[]> => (await db.query<Row>('SELECT * FROM report_schedules ORDER BY created_at, id')).rows.map(toSchedule),
    async get(id: string): Promise<ReportSchedule | null> {
      const r = (await db.query<Row>('SELECT * FROM report_schedules WHERE id = $1', [id])).rows[0];
      return r ? toSchedule(r) : null;
    },
    remove: (id: string): Promise<boolean> => db.tx(async (c) => {
      await c.query('DELETE FROM report_runs WHERE report_id = $1', [id]);
      return ((await c.query('DELETE FROM report_schedules WHERE id = $1', [id])).rowCount ?? 0) > 0;
    }),
    async claim(reportId: string, period: string, leaseMs: number): Promise<boolean> {
      const t = now();
      const ins = await db.query("INSERT INTO report_runs (report_id, period, state, lease_until) VALUES ($1, $2, 'sending', $3) ON CONFLICT DO NOTHING", [reportId, period, t + leaseMs]);
      if ((ins.rowCount ?? 0) > 0) return true;
      const upd = await db.query(
        "UPDATE report_runs SET state = 'sending', lease_until = $1 WHERE report_id = $2 AND period = $3 AND state <> 'sent' AND lease_until < $4 AND attempts < $5",
        [t + leaseMs, reportId, period, t, MAX_REPORT_ATTEMPTS],
      );
      return (upd.rowCount ?? 0) > 0;
    },
    sent: async (reportId: string, period: string): Promise<void> =>
      void (await db.query("UPDATE report_runs SET state = 'sent', sent_at = $1, attempts = attempts + 1, last_error = NULL WHERE report_id = $2 AND period = $3", [now(), reportId, period])),
    failed: async (reportId: string, period: string, code: string, retryAt: number): Promise<void> =>
      void (await db.query("UPDATE report_runs SET state = 'failed', attempts = attempts + 1, lease_until = $1, last_error = $2 WHERE report_id = $3 AND period = $4", [retryAt, code, reportId, period])),
    lastRun: async (reportId: string) => (await db.query<{ period: string; state: string; sent_at: number | null; last_error: string | null; attempts: number }>(
      'SELECT period, state, sent_at, last_error, attempts FROM report_runs WHERE report_id = $1 ORDER BY period DESC LIMIT 1', [reportId],
    )).rows[0] ?? null,
    /** From the roll-ups when they are counted in the report's zone `tz`, else from the violations. */
    async figures(site: string, since: number, until: number, at: number, tz?: string): Promise<ReportFigures> {
      const tally = tz === undefined ? null : await pgTallyRange(db, await rollups.readyTz(), since, until, tz, at, site);
      if (tally) return figuresFromTally(tally);
      const args = [site, since, until];
      const [tot, byApp, hosts, buckets] = await Promise.all([
        db.query<{ n: number; incall: number | null; shown: number; clicked: number }>(
          `SELECT count(*) AS n, sum(CASE WHEN state = 'in-call' THEN coalesce(ended_at, $4) - started_at ELSE 0 END) / 60000.0 AS incall,
             count(nudge_shown_at) AS shown, count(nudge_clicked_at) AS clicked
           FROM violations WHERE site = $1 AND started_at >= $2 AND started_at < $3`, [...args, at],
        ),
        db.query<{ app: string; n: number }>('SELECT app, count(*) AS n FROM violations WHERE site = $1 AND started_at >= $2 AND started_at < $3 GROUP BY app ORDER BY n DESC, app', args),
        db.query<{ hostname: string; n: number }>('SELECT hostname, count(*) AS n FROM violations WHERE site = $1 AND started_at >= $2 AND started_at < $3 GROUP BY hostname ORDER BY n DESC, hostname LIMIT 10', args),
        db.query<{ b: number; n: number }>('SELECT started_at / 900000 AS b, count(*) AS n FROM violations WHERE site = $1 AND started_at >= $2 AND started_at < $3 GROUP BY b ORDER BY b', args),
      ]);
      const t = tot.rows[0]!;
      return { total: t.n, inCallMinutes: t.incall ?? 0, shown: t.shown, clicked: t.clicked, byApp: byApp.rows, hosts: hosts.rows, buckets: buckets.rows };
    },
  };
}
