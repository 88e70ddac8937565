/**
 * The violations feed's filters, kept in the page's URL so a view can be bookmarked or
 * sent to a colleague. Time ranges are stored as presets ("7d"), not instants, so a
 * bookmark of "last 7 days" stays the last 7 days.
 */
import { addDays, parseDay, startOfDay } from './format.js';
import type { AppState, Violation } from './types.js';

export type RangePreset = 'today' | '7d' | '30d' | 'all' | 'custom';

export interface FeedFilters {
  app: string;
  site: string;
  hostname: string;
  user: string;
  state: AppState | '';
  range: RangePreset;
  /** Custom range, local dates 'YYYY-MM-DD' (inclusive). */
  from: string;
  to: string;
  q: string;
}

export const DEFAULT_RANGE: RangePreset = '7d';
export const RANGE_LABELS: Record<RangePreset, string> = {
  today: 'Today', '7d': 'Last 7 days', '30d': 'Last 30 days', all: 'All time', custom: 'Custom dates',
};

const TEXT_KEYS = ['app', 'site', 'hostname', 'user', 'q', 'from', 'to'] as const;
const DAY = /^\d{4}-\d{2}-\d{2}$/;

export function parseFilters(q: URLSearchParams): FeedFilters {
  const state = q.get('state');
  const range = q.get('range');
  const f: FeedFilters = {
    app: '', site: '', hostname: '', user: '', q: '', from: '', to: '',
    state: state === 'running' || state === 'in-call' ? state : '',
    range: range && range in RANGE_LABELS ? (range as RangePreset) : DEFAULT_RANGE,
  };
  for (const k of TEXT_KEYS) f[k] = (q.get(k) ?? '').slice(0, k === 'q' ? 100 : 256);
  if (!DAY.test(f.from)) f.from = '';
  if (!DAY.test(f.to)) f.to = '';
  return f;
}

/** The page URL's query (only what differs from the defaults). */
export function filtersToQuery(f: FeedFilters): URLSearchParams {
  const q = new URLSearchParams();
  for (const k of ['app', 'site', 'hostname', 'user', 'state'] as const) if (f[k]) q.set(k, f[k]);
  if (f.range !== DEFAULT_RANGE) q.set('range', f.range);
  if (f.range === 'custom') {
    if (f.from) q.set('from', f.from);
    if (f.to) q.set('to', f.to);
  }
  if (f.q.trim()) q.set('q', f.q.trim());
  return q;
}

/** since/until (ISO instants) for a filter, relative to now. */
export function rangeBounds(f: Pick<FeedFilters, 'range' | 'from' | 'to'>, now = new Date()): { since?: Date; until?: Date } {
  const today = startOfDay(now);
  switch (f.range) {
    case 'today': return { since: today };
    case '7d': return { since: addDays(today, -6) };
    case '30d': return { since: addDays(today, -29) };
    case 'all': return {};
    case 'custom': return {
      since: f.from ? parseDay(f.from) : undefined,
      // "to" is inclusive: up to the start of the next day.
      until: f.to ? addDays(parseDay(f.to), 1) : undefined,
    };
  }
}

/** The API's query for a filter (the same one the CSV export takes). */
export function apiQuery(f: FeedFilters, now = new Date()): URLSearchParams {
  const q = new URLSearchParams();
  for (const k of ['app', 'site', 'hostname', 'user', 'state'] as const) if (f[k]) q.set(k, f[k]);
  if (f.q.trim()) q.set('q', f.q.trim());
  const { since, until } = rangeBounds(f, now);
  if (since) q.set('since', since.toISOString());
  if (until) q.set('until', until.toISOString());
  return q;
}

/** Whether a violation pushed live belongs in the current view (the server filters pages). */
export function matchesFilters(v: Violation, f: FeedFilters, now = new Date()): boolean {
  if (f.app && v.app !== f.app) return false;
  if (f.site && v.site !== f.site) return false;
  if (f.hostname && v.hostname !== f.hostname) return false;
  if (f.user && v.user !== f.user) return false;
  if (f.state && v.state !== f.state) return false;
  const { since, until } = rangeBounds(f, now);
  const t = Date.parse(v.startedAt);
  if (since && t < since.getTime()) return false;
  if (until && t >= until.getTime()) return false;
  const q = f.q.trim().toLowerCase();
  if (q) {
    const hay = [v.app, v.hostname, v.site ?? '', v.user ?? '', ...v.evidence].join('\n').toLowerCase();
    if (!hay.includes(q)) return false;
  }
  return true;
}

export function hasFilters(f: FeedFilters): boolean {
  return Boolean(f.app || f.site || f.hostname || f.user || f.state || f.q.trim() || f.range !== DEFAULT_RANGE);
}
