/**
 * A printable summary for management: one period (/report?since=YYYY-MM-DD&until=YYYY-MM-DD,
 * both days included), totals, by app, by site, top workstations, nudge click-through, and
 * when and by whom it was generated. Print CSS hides everything but the report.
 */
import { appLabel } from '../components/app-names.js';
import { api, errorText, isAbort } from '../api.js';
import { barTable } from '../components/bars.js';
import { fill, h } from '../dom.js';
import { addDays, fmtDate, fmtDateTime, parseDay, pct, startOfDay, toDay } from '../format.js';
import { navigate } from '../router.js';
import { summarise } from '../trends-data.js';
import type { Trends, User } from '../types.js';
import { loadingText, pageHeading, type View } from './view.js';

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** Accepts a date or an ISO instant; gives the local day. */
function dayParam(v: string | null): string | null {
  if (!v) return null;
  if (DAY.test(v)) return v;
  const t = Date.parse(v);
  return Number.isNaN(t) ? null : toDay(new Date(t));
}

function summaryTable(rows: Array<[string, string]>): HTMLElement {
  return h('table', { class: 'kv', id: 'report-totals' },
    h('caption', null, 'Totals'),
    h('tbody', null, rows.map(([k, v]) => h('tr', null, h('th', { scope: 'row' }, k), h('td', { class: 'num' }, v)))));
}

function renderReport(t: Trends, since: string, until: string, user: User): HTMLElement {
  const s = summarise(t);
  const { violations, shown, clicked } = t.nudges;
  const busiest = [...t.days].sort((a, b) => Object.values(b.byApp).reduce((x, y) => x + y, 0) - Object.values(a.byApp).reduce((x, y) => x + y, 0))[0];
  const busiestCount = busiest ? Object.values(busiest.byApp).reduce((x, y) => x + y, 0) : 0;
  return h('article', { class: 'report', id: 'report' },
    h('header', { class: 'report-head' },
      h('p', { class: 'report-brand' }, 'ConsultGuard · summary report'),
      h('h2', { class: 'report-period' }, `${fmtDate(parseDay(since))} – ${fmtDate(parseDay(until))}`),
      h('p', { class: 'muted', id: 'report-generated' }, `Generated ${fmtDateTime(new Date().toISOString())} by ${user.name} (${user.role}).`)),
    h('section', { class: 'report-section' },
      summaryTable([
        ['Violations', s.total.toLocaleString()],
        ['Minutes in consumer-app calls', s.inCallMinutes.toLocaleString()],
        ['Apps involved', String(s.byApp.length)],
        ['Busiest day', busiest && busiestCount > 0 ? `${fmtDate(new Date(parseDay(busiest.day)))} (${busiestCount})` : '–'],
        ['Nudges shown', `${shown.toLocaleString()} of ${violations.toLocaleString()} violations (${pct(shown, violations)})`],
        ['Nudge click-through', `${clicked.toLocaleString()} of ${shown.toLocaleString()} shown (${pct(clicked, shown)})`],
        // Clinician exceptions (issue 14) apart from unexplained use.
        ...(t.exceptions ? [
          ['Exceptions claimed', `${t.exceptions.claimed.toLocaleString()} (${t.exceptions.accepted} accepted, ${t.exceptions.rejected} rejected, ${t.exceptions.pending} not reviewed)`] as [string, string],
          ['Unexplained use', `${t.exceptions.unexplained.toLocaleString()} of ${violations.toLocaleString()} violations`] as [string, string],
        ] : []),
      ])),
    h('div', { class: 'report-grid' },
      h('section', { class: 'report-section' }, barTable({ id: 'report-by-app', caption: 'By app', labelHeader: 'App', valueHeader: 'Violations', total: s.total, rows: s.byApp.map((x) => ({ label: appLabel(x.app), value: x.count })) })),
      h('section', { class: 'report-section' }, barTable({ id: 'report-by-site', caption: 'By site', labelHeader: 'Site', valueHeader: 'Violations', total: s.total, rows: t.topSites.map((x) => ({ label: x.site ?? '(no site)', value: x.count })) })),
      h('section', { class: 'report-section' }, barTable({ id: 'report-workstations', caption: 'Top workstations', labelHeader: 'Workstation', valueHeader: 'Violations', total: s.total, rows: t.topWorkstations.map((x) => ({ label: x.hostname, value: x.count })) })),
    ),
    h('footer', { class: 'report-foot muted' }, 'Counts are violations that started in the period. Nudge click-through: the clinician opened the approved telehealth app from the nudge.'),
  );
}

export const reportView: View = (ctx) => {
  ctx.title('Report');
  const today = startOfDay(new Date());
  let until = dayParam(ctx.query.get('until')) ?? toDay(today);
  let since = dayParam(ctx.query.get('since')) ?? toDay(addDays(parseDay(until), -29));
  if (since > until) [since, until] = [until, since];

  const sinceIn = h('input', { id: 'report-since', type: 'date', value: since, required: true });
  const untilIn = h('input', { id: 'report-until', type: 'date', value: until, required: true });
  const form = h('form', { class: 'report-controls no-print', 'aria-label': 'Report period' },
    h('div', { class: 'field' }, h('label', { for: 'report-since' }, 'From'), sinceIn),
    h('div', { class: 'field' }, h('label', { for: 'report-until' }, 'To (included)'), untilIn),
    h('div', { class: 'field field-action' }, h('button', { type: 'submit', class: 'btn' }, 'Show period')),
    h('div', { class: 'field field-action' }, h('button', { type: 'button', class: 'btn btn-primary', onclick: () => window.print() }, 'Print or save as PDF')),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (!DAY.test(sinceIn.value) || !DAY.test(untilIn.value)) return;
    navigate(`/report?${new URLSearchParams({ since: sinceIn.value, until: untilIn.value }).toString()}`);
  });
  const body = h('div', null, loadingText('the report'));
  const heading = pageHeading('Summary report');
  heading.classList.add('no-print');
  ctx.root.append(heading, form, body);

  const q = new URLSearchParams({ since: parseDay(since).toISOString(), until: addDays(parseDay(until), 1).toISOString() });
  api.trends(q, ctx.signal).then(
    (t) => fill(body, renderReport(t, since, until, ctx.user)),
    (err: unknown) => {
      if (!isAbort(err)) fill(body, h('p', { class: 'notice notice-error', role: 'alert' }, `Could not build the report: ${errorText(err)}`));
    },
  );
};
