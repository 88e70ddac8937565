/**
 * The feed's filter bar: drop-downs filled from /api/filters, state, time range (presets
 * or custom dates) and free-text search. Every control has a visible label.
 */
import { appLabel } from '../components/app-names.js';
import { api } from '../api.js';
import { h } from '../dom.js';
import { DEFAULT_RANGE, hasFilters, RANGE_LABELS, type FeedFilters, type RangePreset } from '../filters.js';
import { toDay } from '../format.js';
import type { FilterValues } from '../types.js';

type ListKey = 'app' | 'site' | 'hostname' | 'user';
const LISTS: Array<{ key: ListKey; from: keyof FilterValues; label: string; all: string }> = [
  { key: 'app', from: 'apps', label: 'App', all: 'All apps' },
  { key: 'site', from: 'sites', label: 'Site', all: 'All sites' },
  { key: 'hostname', from: 'hostnames', label: 'Workstation', all: 'All workstations' },
  { key: 'user', from: 'users', label: 'User', all: 'All users' },
];

function options(select: HTMLSelectElement, all: string, values: string[], current: string, label: (v: string) => string = (v) => v): void {
  const list = [...new Set([...values, ...(current ? [current] : [])])].sort((a, b) => a.localeCompare(b));
  select.replaceChildren(h('option', { value: '' }, all), ...list.map((v) => h('option', { value: v }, label(v))));
  select.value = current;
}

export function buildFilterForm(initial: FeedFilters, signal: AbortSignal, onChange: (f: FeedFilters) => void): HTMLFormElement {
  const f: FeedFilters = { ...initial };
  const field = (id: string, label: string, control: HTMLElement, cls = '') =>
    h('div', { class: `field ${cls}`.trim() }, h('label', { for: id }, label), control);

  const selects = LISTS.map((l) => {
    const el = h('select', { id: `f-${l.key}`, name: l.key });
    options(el, l.all, [], f[l.key]);
    el.addEventListener('change', () => {
      f[l.key] = el.value;
      changed();
    });
    return { l, el };
  });

  const state = h('select', { id: 'f-state', name: 'state' },
    h('option', { value: '' }, 'Any state'), h('option', { value: 'running' }, 'Running'), h('option', { value: 'in-call' }, 'In call'));
  state.value = f.state;
  state.addEventListener('change', () => {
    f.state = state.value === 'running' || state.value === 'in-call' ? state.value : '';
    changed();
  });

  const range = h('select', { id: 'f-range', name: 'range' },
    (Object.keys(RANGE_LABELS) as RangePreset[]).map((k) => h('option', { value: k }, RANGE_LABELS[k])));
  range.value = f.range;
  const from = h('input', { id: 'f-from', name: 'from', type: 'date', value: f.from });
  const to = h('input', { id: 'f-to', name: 'to', type: 'date', value: f.to });
  const custom = h('div', { class: 'custom-range', hidden: f.range !== 'custom' }, field('f-from', 'From', from), field('f-to', 'To', to));
  range.addEventListener('change', () => {
    f.range = range.value as RangePreset;
    custom.hidden = f.range !== 'custom';
    if (f.range === 'custom' && !from.value && !to.value) {
      from.value = f.from = toDay(new Date(Date.now() - 6 * 86_400_000));
      to.value = f.to = toDay(new Date());
    }
    changed();
  });
  for (const input of [from, to]) {
    input.addEventListener('change', () => {
      f.from = from.value;
      f.to = to.value;
      changed();
    });
  }

  const search = h('input', { id: 'f-q', name: 'q', type: 'search', value: f.q, placeholder: 'app, user, workstation, evidence…', autocomplete: 'off', maxlength: 100 });
  let typing: ReturnType<typeof setTimeout> | undefined;
  search.addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(() => {
      f.q = search.value;
      changed();
    }, 350);
  });
  signal.addEventListener('abort', () => clearTimeout(typing));

  const clear = h('button', { type: 'button', class: 'btn btn-quiet', hidden: !hasFilters(f) }, 'Clear filters');
  clear.addEventListener('click', () => {
    Object.assign(f, { app: '', site: '', hostname: '', user: '', state: '', range: DEFAULT_RANGE, from: '', to: '', q: '' });
    for (const { el } of selects) el.value = '';
    state.value = '';
    range.value = DEFAULT_RANGE;
    custom.hidden = true;
    from.value = to.value = search.value = '';
    changed();
    selects[0]?.el.focus();
  });

  function changed(): void {
    clear.hidden = !hasFilters(f);
    onChange({ ...f });
  }

  const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter violations' },
    ...selects.map(({ l, el }) => field(el.id, l.label, el)),
    field('f-state', 'State', state),
    field('f-range', 'Time range', range),
    custom,
    field('f-q', 'Search', search, 'field-search'),
    h('div', { class: 'field field-action' }, clear),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    clearTimeout(typing);
    f.q = search.value;
    changed();
  });

  api.filters(signal).then((values) => {
    for (const { l, el } of selects) options(el, l.all, values[l.from] ?? [], f[l.key], l.key === 'app' ? appLabel : undefined);
  }, () => undefined); // the drop-downs keep "All …" and the current value; the feed still works
  return form;
}
