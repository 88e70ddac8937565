/**
 * Daily bar charts with uPlot (small, canvas, no dependencies). Stacked bars use the
 * classic uPlot trick: series hold running totals and are drawn tallest first, so each
 * shorter one paints over the last. The canvas is hidden from assistive technology;
 * every chart comes with an HTML legend and the same numbers as a table.
 */
import uPlot from 'uplot';
import { h } from '../dom.js';
import { fmtDay, parseDay, toDay } from '../format.js';

/** Distinct at a glance, each at least 3:1 against white (WCAG 1.4.11). */
export const PALETTE = ['#1f5fa8', '#c0392b', '#2b7a3b', '#b36b00', '#6b3fa0', '#00727a', '#a3336b', '#4d5a66'];
const DAY = 86_400;
const DAY_INCRS = [DAY, 2 * DAY, 7 * DAY, 14 * DAY, 28 * DAY, 91 * DAY];

export interface SeriesSpec {
  label: string;
  values: number[];
}

export interface ChartSpec {
  id: string;
  title: string;
  days: string[];
  series: SeriesSpec[];
  /** 'stacked': one bar per day split by series; 'bars': a single series. */
  kind: 'stacked' | 'bars';
  yLabel: string;
}

function dataTable(spec: ChartSpec): HTMLElement {
  return h('table', { class: 'data compact', id: `${spec.id}-data` },
    h('caption', { class: 'sr-only' }, `${spec.title}, per day`),
    h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Day'), spec.series.map((s) => h('th', { scope: 'col', class: 'num' }, s.label)))),
    h('tbody', null, spec.days.map((d, i) => h('tr', null,
      h('th', { scope: 'row' }, fmtDay(d)),
      spec.series.map((s) => h('td', { class: 'num' }, String(s.values[i] ?? 0)))))));
}

export function dailyChart(spec: ChartSpec, signal: AbortSignal): HTMLElement {
  const plotEl = h('div', { class: 'chart-plot', 'aria-hidden': 'true' });
  const color = (i: number) => PALETTE[i % PALETTE.length] ?? '#1f5fa8';
  const legend = spec.series.length > 1
    ? h('ul', { class: 'chart-legend', 'aria-label': 'Legend' }, spec.series.map((s, i) =>
      h('li', null, h('span', { class: 'swatch', style: `background:${color(i)}` }), s.label, h('span', { class: 'muted' }, `(${s.values.reduce((a, b) => a + b, 0)})`))))
    : null;
  const fig = h('figure', { class: 'chart', id: spec.id },
    h('figcaption', null, spec.title),
    plotEl,
    legend,
    h('details', { class: 'chart-data' }, h('summary', null, 'Show the numbers'), dataTable(spec)));

  const xs = spec.days.map((d) => parseDay(d).getTime() / 1000);
  // Running totals, then reversed so the tallest (the day's total) is drawn first.
  const stacked: number[][] = [];
  spec.series.forEach((s, i) => stacked.push(s.values.map((v, d) => v + (i > 0 ? stacked[i - 1]?.[d] ?? 0 : 0))));
  const order = spec.series.map((_, i) => i).reverse();
  const data: uPlot.AlignedData = [xs, ...order.map((i) => stacked[i] ?? [])];
  const bars = uPlot.paths.bars?.({ size: [0.7, 40], align: 0 });
  const axis = { stroke: '#3d4852', grid: { stroke: '#e4e8ec' }, ticks: { stroke: '#c9d0d6' } };
  const opts: uPlot.Options = {
    width: 600,
    height: 230,
    legend: { show: false },
    cursor: { show: false },
    scales: {
      x: { time: true, range: (_u, min, max) => [min - DAY / 2, max + DAY / 2] },
      y: { range: (_u, _min, max) => [0, Math.max(1, Math.ceil(max * 1.1))] },
    },
    axes: [
      { ...axis, incrs: DAY_INCRS, space: 48, values: (_u, splits) => splits.map((t) => fmtDay(toDay(new Date(t * 1000)))) },
      { ...axis, label: spec.yLabel, size: 56 },
    ],
    series: [{}, ...order.map((i): uPlot.Series => ({ label: spec.series[i]?.label ?? '', stroke: color(i), fill: color(i), width: 0, paths: bars, points: { show: false } }))],
  };

  // Size to the container once it is in the page, and follow it when the window changes.
  let plot: uPlot | null = null;
  const ro = new ResizeObserver(() => {
    const width = Math.max(280, Math.floor(plotEl.clientWidth));
    if (!plot) plot = new uPlot({ ...opts, width }, data, plotEl);
    else if (Math.abs(plot.width - width) > 2) plot.setSize({ width, height: opts.height });
  });
  ro.observe(plotEl);
  signal.addEventListener('abort', () => {
    ro.disconnect();
    plot?.destroy();
  });
  return fig;
}
