/**
 * A scheduled report's content: what the dashboard's report page shows (totals, minutes
 * in calls, by app, top workstations, nudges shown and clicked through, the busiest day)
 * for one site and period, as mail text and HTML, and that period's violations as CSV,
 * clinicians by pseudonym (a mailbox is not the dashboard: names stay behind the reveal).
 */
import { localTime } from '../../shared/hours.js';
import { csvLine } from '../api/csv.js';
import type { PseudonymFor } from '../alerts/pseudonym.js';
import type { ReportFigures, ViolationStore } from '../store/types.js';
import type { Period } from './period.js';

export interface ReportSummary {
  total: number;
  inCallMinutes: number;
  byApp: Array<{ app: string; name: string; count: number }>;
  topWorkstations: Array<{ hostname: string; count: number }>;
  busiestDay: { day: string; count: number } | null;
  nudges: { shown: number; clicked: number };
}

/** Words the store's figures (store `reports.figures`) for one site and period. */
export function summarise(f: ReportFigures, tz: string, appName: (id: string) => string): ReportSummary {
  // Days in the site's zone: the roll-ups' local days when the store read them, else
  // 15-minute buckets mapped to local dates (exact for every real UTC offset).
  const days = new Map<string, number>((f.days ?? []).map((d) => [d.day, d.n]));
  for (const r of f.buckets) {
    const day = localTime(tz, new Date(r.b * 900_000)).date;
    days.set(day, (days.get(day) ?? 0) + r.n);
  }
  const busiest = [...days].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))[0];
  return {
    total: f.total,
    inCallMinutes: Math.round(f.inCallMinutes * 10) / 10,
    byApp: f.byApp.map((r) => ({ app: r.app, name: appName(r.app), count: r.n })),
    topWorkstations: f.hosts.map((r) => ({ hostname: r.hostname, count: r.n })),
    busiestDay: busiest ? { day: busiest[0], count: busiest[1] } : null,
    nudges: { shown: f.shown, clicked: f.clicked },
  };
}

const CSV_COLUMNS = ['id', 'agentId', 'hostname', 'site', 'user', 'app', 'state', 'via', 'startedAt', 'endedAt', 'durationSec', 'nudged', 'nudgeClicked', 'evidence'] as const;
/** A mail attachment, not a stream: capped, and the mail says so when the cap cut it. */
export const CSV_MAX_ROWS = 100_000;

/** The period's violations as CSV (the API export's columns; `user` holds the pseudonym). */
export async function periodCsv(violations: ViolationStore, site: string, p: Period, pseudonymFor: PseudonymFor): Promise<{ csv: string; rows: number; truncated: boolean }> {
  const lines = [csvLine([...CSV_COLUMNS])];
  let cursor: { startedAt: number; seq: number } | undefined;
  let rows = 0;
  do {
    const page = await violations.list({ site, since: p.since, until: p.until }, Math.min(500, CSV_MAX_ROWS - rows), cursor);
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
