/**
 * Top-N lists as a plain table with a bar drawn in CSS: screen readers read the table
 * (label, number), sighted users see the bar; nothing is only in the picture.
 */
import { h } from '../dom.js';
import { pct } from '../format.js';

export interface BarRow {
  label: string;
  value: number;
}

export function barTable(opts: { id: string; caption: string; labelHeader: string; valueHeader: string; rows: BarRow[]; total?: number; empty?: string }): HTMLElement {
  const max = Math.max(1, ...opts.rows.map((r) => r.value));
  if (opts.rows.length === 0) return h('p', { class: 'muted', id: opts.id }, opts.empty ?? 'Nothing in this period.');
  const withShare = opts.total !== undefined;
  return h('table', { class: 'bars', id: opts.id },
    h('caption', null, opts.caption),
    h('thead', null, h('tr', null,
      h('th', { scope: 'col' }, opts.labelHeader),
      h('th', { scope: 'col', class: 'num' }, opts.valueHeader),
      withShare ? h('th', { scope: 'col', class: 'num' }, 'Share') : null,
      h('th', { scope: 'col', class: 'bar-col' }, h('span', { class: 'sr-only' }, 'Bar')))),
    h('tbody', null, opts.rows.map((r) => h('tr', null,
      h('th', { scope: 'row' }, r.label),
      h('td', { class: 'num' }, r.value.toLocaleString()),
      withShare ? h('td', { class: 'num' }, pct(r.value, opts.total ?? 0)) : null,
      h('td', { class: 'bar-col', 'aria-hidden': 'true' }, h('span', { class: 'bar', style: `width:${((r.value / max) * 100).toFixed(1)}%` })),
    ))));
}

/** A ratio as words and a bar: "42 of 60 (70 %)". */
export function ratioBar(label: string, part: number, whole: number): HTMLElement {
  const share = whole > 0 ? Math.min(1, part / whole) : 0;
  return h('div', { class: 'ratio' },
    h('div', { class: 'ratio-label' }, h('span', null, label), h('strong', null, `${part.toLocaleString()} of ${whole.toLocaleString()} (${pct(part, whole)})`)),
    h('div', { class: 'ratio-track', 'aria-hidden': 'true' }, h('span', { class: 'bar', style: `width:${(share * 100).toFixed(1)}%` })));
}
