/**
 * A scheduled report's content: what the dashboard's report page shows (totals, minutes
 * in calls, by app, top workstations, nudges shown and clicked through, the busiest day)
 * for one site and period, as mail text and HTML, and that period's violations as CSV,
 * clinicians by pseudonym (a mailbox is not the dashboard: names stay behind the reveal).
 */
import { localTime } from '../../shared/hours.js';
import { csvLine } from '../api/csv.js';
import type { PseudonymFor } from '../alerts/pseudonym.js';
import type { Db } from '../store/db.js';
import type { ViolationStore } from '../store/violations.js';
import { createRollups } from '../store/rollups.js';
import { tallyRange, topOf } from '../store/tally.js';
import { inCallMinutes } from '../store/trends.js';
import type { Period } from './period.js';

export interface ReportSummary {
  total: number;
  inCallMinutes: number;
  byApp: Array<{ app: string; name: string; count: number }>;
  topWorkstations: Array<{ hostname: string; count: number }>;
  busiestDay: { day: string; count: number } | null;
  nudges: { shown: number; clicked: number };
}

/** The report's figures: from roll-ups when they are counted in the site's zone, else from the violations. */
export function summarise(db: Db, site: string, p: Period, tz: string, appName: (id: string) => string, now: number): ReportSummary {
  const state = createRollups(db).state();
  const t = tallyRange(db, state.ready ? state.tz : null, p.since, p.until, tz, now, site);
  if (!t) return summariseFromRows(db, site, p, tz, appName, now);
  const byApp = new Map<string, number>();
  for (const d of t.days.values()) for (const [app, n] of d.byApp) byApp.set(app, (byApp.get(app) ?? 0) + n);
  const busiest = [...t.days].map(([day, d]) => [day, d.n] as const).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0];
  return {
    total: t.total,
    inCallMinutes: inCallMinutes(t.inCallMs),
    byApp: topOf(byApp, Infinity).map(([app, count]) => ({ app, name: appName(app), count })),
    topWorkstations: topOf(t.hosts, 10).map(([hostname, count]) => ({ hostname, count })),
    busiestDay: busiest ? { day: busiest[0], count: busiest[1] } : null,
    nudges: { shown: t.shown, clicked: t.clicked },
  };
}

/** The same figures counted from the violations (the pre-roll-up queries; the reference in tests). */
export function summariseFromRows(db: Db, site: string, p: Period, tz: string, appName: (id: string) => string, now: number): ReportSummary {
  const args = [site, p.since, p.until] as const;
  const tot = db.prepare<[number, string, number, number], { n: number; incall: number | null; shown: number; clicked: number }>(
    `SELECT count(*) AS n, sum(CASE WHEN state = 'in-call' THEN coalesce(ended_at, ?) - started_at ELSE 0 END) / 60000.0 AS incall,
       count(nudge_shown_at) AS shown, count(nudge_clicked_at) AS clicked
     FROM violations WHERE site = ? AND started_at >= ? AND started_at < ?`,
  ).get(now, ...args)!;
  const byApp = db.prepare<[string, number, number], { app: string; n: number }>('SELECT app, count(*) AS n FROM violations WHERE site = ? AND started_at >= ? AND started_at < ? GROUP BY app ORDER BY n DESC, app').all(...args);
  const hosts = db.prepare<[string, number, number], { hostname: string; n: number }>('SELECT hostname, count(*) AS n FROM violations WHERE site = ? AND started_at >= ? AND started_at < ? GROUP BY hostname ORDER BY n DESC, hostname LIMIT 10').all(...args);
  // Days in the site's zone: hour buckets mapped to local dates (exact for whole-hour offsets; a
  // half-hour zone's bucket straddling midnight counts on the day it starts).
  const buckets = db.prepare<[string, number, number], { b: number; n: number }>('SELECT started_at / 900000 AS b, count(*) AS n FROM violations WHERE site = ? AND started_at >= ? AND started_at < ? GROUP BY b').all(...args);
  const days = new Map<string, number>();
  for (const r of buckets) {
    const day = localTime(tz, new Date(r.b * 900_000)).date;
    days.set(day, (days.get(day) ?? 0) + r.n);
  }
  const busiest = [...days].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0];
  return {
    total: tot.n,
    inCallMinutes: Math.round((tot.incall ?? 0) * 10) / 10,
    byApp: byApp.map((r) => ({ app: r.app, name: appName(r.app), count: r.n })),
    topWorkstations: hosts.map((r) => ({ hostname: r.hostname, count: r.n })),
    busiestDay: busiest ? { day: busiest[0], count: busiest[1] } : null,
    nudges: { shown: tot.shown, clicked: tot.clicked },
  };
}

const CSV_COLUMNS = ['id', 'agentId', 'hostname', 'site', 'user', 'app', 'state', 'via', 'startedAt', 'endedAt', 'durationSec', 'nudged', 'nudgeClicked', 'evidence'] as const;
/** A mail attachment, not a stream: capped, and the mail says so when the cap cut it. */
export const CSV_MAX_ROWS = 100_000;

/** The period's violations as CSV (the API export's columns; `user` holds the pseudonym). */
export function periodCsv(violations: ViolationStore, site: string, p: Period, pseudonymFor: PseudonymFor): { csv: string; rows: number; truncated: boolean } {
  const lines = [csvLine([...CSV_COLUMNS])];
  let cursor: { startedAt: number; seq: number } | undefined;
  let rows = 0;
  do {
    const page = violations.list({ site, since: p.since, until: p.until }, Math.min(500, CSV_MAX_ROWS - rows), cursor);
    for (const v of page.items) {
      // The store already shows a pseudonym unless the clinic shows names; a mailed report
      // names nobody either way.
      const row = { ...v, user: v.userKind === 'name' ? pseudonymFor(v.user) : v.user };
      // Evidence can name a home folder (C:\Users\dr.lee\...): the user's name is replaced there too.
      if (v.user && v.userKind === 'name') {
        const short = v.user.split(/[\\/]/).pop() ?? v.user;
        row.evidence = v.evidence.map((e) => e.split(short).join(row.user ?? '(clinician)'));
      }
      lines.push(csvLine(CSV_COLUMNS.map((c) => row[c])));
    }
    rows += page.items.length;
    cursor = page.next ?? undefined;
  } while (cursor && rows < CSV_MAX_ROWS);
  return { csv: lines.join(''), rows, truncated: cursor !== undefined };
}

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const pct = (a: number, b: number): string => (b === 0 ? '–' : `${Math.round((a / b) * 100)}%`);

export function renderReport(site: string, every: string, p: Period, s: ReportSummary, csv: { rows: number; truncated: boolean }, generatedAt: number) {
  const title = `ConsultGuard ${every} report, ${site}: ${p.firstDay} – ${p.lastDay}`;
  const totals: Array<[string, string]> = [
    ['Violations', String(s.total)],
    ['Minutes in consumer-app calls', String(s.inCallMinutes)],
    ['Apps involved', String(s.byApp.length)],
    ['Busiest day', s.busiestDay ? `${s.busiestDay.day} (${s.busiestDay.count})` : '–'],
    ['Nudges shown', `${s.nudges.shown} of ${s.total} violations (${pct(s.nudges.shown, s.total)})`],
    ['Nudge click-through', `${s.nudges.clicked} of ${s.nudges.shown} shown (${pct(s.nudges.clicked, s.nudges.shown)})`],
  ];
  const byApp = s.byApp.map((a) => [`${a.name}`, String(a.count)] as [string, string]);
  const hosts = s.topWorkstations.map((h) => [h.hostname, String(h.count)] as [string, string]);
  const note = `Counts are violations that started in the period. The attached CSV holds ${csv.rows} violation${csv.rows === 1 ? '' : 's'}${csv.truncated ? ` (cut at ${CSV_MAX_ROWS}; export the rest from the dashboard)` : ''}, clinicians by pseudonym.`;
  const section = (name: string, rows: Array<[string, string]>) => [``, name, ...(rows.length ? rows.map(([k, v]) => `  ${k}: ${v}`) : ['  (none)'])];
  const text = [title, '', ...totals.map(([k, v]) => `${k}: ${v}`), ...section('By app', byApp), ...section('Top workstations', hosts), '', note, `Generated ${new Date(generatedAt).toISOString()}.`].join('\n');
  const table = (caption: string, rows: Array<[string, string]>) => `<table><caption style="text-align:left;font-weight:bold">${esc(caption)}</caption>${rows.map(([k, v]) => `<tr><th align="left" style="padding-right:1em">${esc(k)}</th><td align="right">${esc(v)}</td></tr>`).join('') || '<tr><td>(none)</td></tr>'}</table>`;
  const html = `<h2>${esc(title)}</h2>${table('Totals', totals)}${table('By app', byApp)}${table('Top workstations', hosts)}<p style="color:#666">${esc(note)} Generated ${esc(new Date(generatedAt).toISOString())}.</p>`;
  return { subject: title, text, html };
}
