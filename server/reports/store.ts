/**
 * Report schedules and the claim rows that make "once per period" hold across a restart
 * and across instances on one store: the first to insert (report, period) sends; a claim
 * whose sender died is taken over once its lease runs out; a failed send is retried later.
 */
import { randomUUID } from 'node:crypto';
import type { Db } from '../store/db.js';
import type { ReportFigures } from '../store/types.js';
import type { Every } from './period.js';
import type { Rollups } from '../store/rollups.js';
import { tallyRange, topOf, type Tally } from '../store/tally.js';

export interface ReportSchedule {
  id: string;
  every: Every;
  site: string;
  emails: string[];
  createdAt: number;
  createdBy: string;
}

interface Row { id: string; every: string; site: string; emails: string; created_at: number; created_by: string }
const toSchedule = (r: Row): ReportSchedule => ({ id: r.id, every: r.every as Every, site: r.site, emails: JSON.parse(r.emails) as string[], createdAt: r.created_at, createdBy: r.created_by });

/** Sends of one period are given up after this many failed attempts (the next period still goes). */
export const MAX_REPORT_ATTEMPTS = 20;

/** `rollups` (the SQLite engine's): when given and counted in a report's zone, `figures` reads them. */
export function createReportStore(db: Db, now: () => number = Date.now, rollups?: Rollups) {
  return {
    add(s: Omit<ReportSchedule, 'id' | 'createdAt'>): ReportSchedule {
      const created = { ...s, id: randomUUID().slice(0, 8), createdAt: now() };
      db.prepare('INSERT INTO report_schedules (id, every, site, emails, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?)').run(created.id, created.every, created.site, JSON.stringify(created.emails), created.createdAt, created.createdBy);
      return created;
    },
    list: (): ReportSchedule[] => db.prepare<[], Row>('SELECT * FROM report_schedules ORDER BY created_at, id').all().map(toSchedule),
    get(id: string): ReportSchedule | null {
      const r = db.prepare<[string], Row>('SELECT * FROM report_schedules WHERE id = ?').get(id);
      return r ? toSchedule(r) : null;
    },
    remove: (id: string): boolean => db.transaction(() => {
      db.prepare('DELETE FROM report_runs WHERE report_id = ?').run(id);
      return db.prepare('DELETE FROM report_schedules WHERE id = ?').run(id).changes > 0;
    })(),
    /** True when this caller now owns sending (report, period) until `leaseMs` from now. */
    claim: (reportId: string, period: string, leaseMs: number): boolean => db.transaction(() => {
      const t = now();
      if (db.prepare("INSERT OR IGNORE INTO report_runs (report_id, period, state, lease_until) VALUES (?, ?, 'sending', ?)").run(reportId, period, t + leaseMs).changes > 0) return true;
      return db.prepare(
        "UPDATE report_runs SET state = 'sending', lease_until = ? WHERE report_id = ? AND period = ? AND state <> 'sent' AND lease_until < ? AND attempts < ?",
      ).run(t + leaseMs, reportId, period, t, MAX_REPORT_ATTEMPTS).changes > 0;
    }).immediate(),
    sent: (reportId: string, period: string): void => void db.prepare("UPDATE report_runs SET state = 'sent', sent_at = ?, attempts = attempts + 1, last_error = NULL WHERE report_id = ? AND period = ?").run(now(), reportId, period),
    failed: (reportId: string, period: string, code: string, retryAt: number): void =>
      void db.prepare("UPDATE report_runs SET state = 'failed', attempts = attempts + 1, lease_until = ?, last_error = ? WHERE report_id = ? AND period = ?").run(retryAt, code, reportId, period),
    /** The newest run of a schedule (for listings). */
    lastRun: (reportId: string) => db.prepare<[string], { period: string; state: string; sent_at: number | null; last_error: string | null; attempts: number }>(
      'SELECT period, state, sent_at, last_error, attempts FROM report_runs WHERE report_id = ? ORDER BY period DESC LIMIT 1',
    ).get(reportId) ?? null,
    /**
     * A site's period in figures (content.ts words them); `t` ends open in-call violations.
     * Given the report's zone `tz`, from the roll-ups when they are counted in it (per-day
     * counts in `days`); else counted from the violations (figuresFromRows).
     */
    figures(site: string, since: number, until: number, t: number, tz?: string): ReportFigures {
      const state = rollups?.state();
      const tally = tz === undefined ? null : tallyRange(db, state?.ready ? state.tz : null, since, until, tz, t, site);
      return tally ? figuresFromTally(tally) : figuresFromRows(db, site, since, until, t);
    },
  };
}

/** A site's period counted from the violations (the pre-roll-up queries; the reference in tests). */
/** A report's figures from a tally (both engines): per-day counts in `days` (in day order), no 15-minute buckets. */
export function figuresFromTally(tally: Tally): ReportFigures {
  const byApp = new Map<string, number>();
  for (const d of tally.days.values()) for (const [app, n] of d.byApp) byApp.set(app, (byApp.get(app) ?? 0) + n);
  return {
    total: tally.total,
    inCallMinutes: tally.inCallMs / 60_000,
    shown: tally.shown,
    clicked: tally.clicked,
    byApp: topOf(byApp, Infinity).map(([app, n]) => ({ app, n })),
    hosts: topOf(tally.hosts, 10).map(([hostname, n]) => ({ hostname, n })),
    buckets: [],
    days: [...tally.days].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([day, d]) => ({ day, n: d.n })),
  };
}

export function figuresFromRows(db: Db, site: string, since: number, until: number, t: number): ReportFigures {
  const args = [site, since, until] as const;
  const tot = db.prepare<[number, string, number, number], { n: number; incall: number | null; shown: number; clicked: number }>(
    `SELECT count(*) AS n, sum(CASE WHEN state = 'in-call' THEN coalesce(ended_at, ?) - started_at ELSE 0 END) / 60000.0 AS incall,
       count(nudge_shown_at) AS shown, count(nudge_clicked_at) AS clicked
     FROM violations WHERE site = ? AND started_at >= ? AND started_at < ?`,
  ).get(t, ...args)!;
  const byApp = db.prepare<[string, number, number], { app: string; n: number }>('SELECT app, count(*) AS n FROM violations WHERE site = ? AND started_at >= ? AND started_at < ? GROUP BY app ORDER BY n DESC, app').all(...args);
  const hosts = db.prepare<[string, number, number], { hostname: string; n: number }>('SELECT hostname, count(*) AS n FROM violations WHERE site = ? AND started_at >= ? AND started_at < ? GROUP BY hostname ORDER BY n DESC, hostname LIMIT 10').all(...args);
  const buckets = db.prepare<[string, number, number], { b: number; n: number }>('SELECT started_at / 900000 AS b, count(*) AS n FROM violations WHERE site = ? AND started_at >= ? AND started_at < ? GROUP BY b').all(...args);
  return { total: tot.n, inCallMinutes: tot.incall ?? 0, shown: tot.shown, clicked: tot.clicked, byApp, hosts, buckets };
}

export type ReportStore = ReturnType<typeof createReportStore>;
