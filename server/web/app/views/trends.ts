/**
 * Trends over a period: violations per day by app and in-call minutes per day (uPlot),
 * top sites and workstations and nudge click-through (HTML bars).
 */
import { appLabel } from '../components/app-names.js';
import { api, errorText, isAbort } from '../api.js';
import { barTable, ratioBar } from '../components/bars.js';
import { dailyChart } from '../components/chart.js';
import { fill, h } from '../dom.js';
import { addDays, pct, startOfDay } from '../format.js';
import { setQuery } from '../router.js';
import { fillDays, summarise } from '../trends-data.js';
import type { Trends } from '../types.js';
import { loadingText, pageHeading, type View } from './view.js';

const PERIODS = [7, 30, 90] as const;

function stat(label: string, value: string, id: string): HTMLElement {
  return h('div', { class: 'stat' }, h('span', { class: 'stat-value', id }, value), h('span', { class: 'stat-label' }, label));
}

export const trendsView: View = (ctx) => {
  ctx.title('Trends');
  const asked = Number(ctx.query.get('days'));
  let days: number = PERIODS.includes(asked as (typeof PERIODS)[number]) ? asked : 30;
  const period = h('select', { id: 'trend-days' }, PERIODS.map((d) => h('option', { value: d }, `Last ${d} days`)));
  period.value = String(days);
  const body = h('div', { class: 'trends' });
  let chartCtl: AbortController | null = null;

  ctx.root.append(
    pageHeading('Trends', h('div', { class: 'field field-inline' }, h('label', { for: 'trend-days' }, 'Period'), period)),
    body,
  );
  period.addEventListener('change', () => {
    days = Number(period.value);
    setQuery(new URLSearchParams(days === 30 ? '' : `days=${days}`));
    void load();
  });

  function render(t: Trends, since: Date, until: Date, signal: AbortSignal): void {
    const s = summarise(t);
    t = { ...t, days: fillDays(t.days, since, until) };
    const dayKeys = t.days.map((d) => d.day);
    const { violations, shown, clicked } = t.nudges;
    fill(body,
      h('section', { class: 'stats', 'aria-label': 'Totals' },
        stat('violations', s.total.toLocaleString(), 'stat-total'),
        stat('minutes in consumer-app calls', s.inCallMinutes.toLocaleString(), 'stat-incall'),
        stat('nudges shown', `${shown.toLocaleString()}`, 'stat-shown'),
        stat('nudge click-through', pct(clicked, shown), 'stat-ctr'),
        // Clinician exceptions (issue 14), counted apart from unexplained use.
        t.exceptions ? stat('exceptions claimed', t.exceptions.claimed.toLocaleString(), 'stat-exceptions') : null,
        t.exceptions ? stat('unexplained use', t.exceptions.unexplained.toLocaleString(), 'stat-unexplained') : null),
      h('div', { class: 'chart-grid' },
        h('section', { class: 'panel' },
          dailyChart({
            id: 'chart-by-app', title: 'Violations per day, by app', days: dayKeys, kind: 'stacked', yLabel: 'violations',
            series: (s.apps.length ? s.apps : ['(none)']).map((app) => ({ label: appLabel(app), values: t.days.map((d) => d.byApp[app] ?? 0) })),
          }, signal)),
        h('section', { class: 'panel' },
          dailyChart({
            id: 'chart-in-call', title: 'Minutes in consumer-app calls, per day', days: dayKeys, kind: 'bars', yLabel: 'minutes',
            series: [{ label: 'In-call minutes', values: t.days.map((d) => Math.round(d.inCallMinutes)) }],
          }, signal)),
      ),
      h('div', { class: 'bar-grid' },
        h('section', { class: 'panel' }, barTable({ id: 'top-sites', caption: 'Top sites', labelHeader: 'Site', valueHeader: 'Violations', rows: t.topSites.map((x) => ({ label: x.site ?? '(no site)', value: x.count })) })),
        h('section', { class: 'panel' }, barTable({ id: 'top-workstations', caption: 'Top workstations', labelHeader: 'Workstation', valueHeader: 'Violations', rows: t.topWorkstations.map((x) => ({ label: x.hostname, value: x.count })) })),
        h('section', { class: 'panel', 'aria-labelledby': 'nudge-h' },
          h('h2', { id: 'nudge-h', class: 'panel-title' }, 'Nudges'),
          ratioBar('Violations with a nudge shown', shown, violations),
          ratioBar('Nudges clicked (approved app opened)', clicked, shown),
          h('p', { class: 'hint' }, 'A click means the clinician opened the approved telehealth app from the nudge.')),
      ),
    );
  }

  async function load(): Promise<void> {
    chartCtl?.abort();
    const ctl = new AbortController();
    chartCtl = ctl;
    ctx.signal.addEventListener('abort', () => ctl.abort());
    fill(body, loadingText('trends'));
    const today = startOfDay(new Date());
    const since = addDays(today, -(days - 1));
    const until = addDays(today, 1);
    const q = new URLSearchParams({ since: since.toISOString(), until: until.toISOString() });
    try {
      render(await api.trends(q, ctl.signal), since, until, ctl.signal);
    } catch (err) {
      if (!isAbort(err)) fill(body, h('p', { class: 'notice notice-error', role: 'alert' }, `Could not load trends: ${errorText(err)}`));
    }
  }
  void load();
};
