/**
 * What trends, the report and exception counts are made of, for violations started in
 * [since, until), optionally of one site: counts per local day and app, in-call time,
 * counts per site and per workstation, nudges, exceptions.
 *
 * From roll-ups: the whole local days inside the range come from the roll-up rows (whole
 * months from the month tables for the top-N lists), and only the ragged ends (a range
 * that starts at 09:13) are counted from the violations themselves, through the
 * started_at index: at most two partial days of rows. The sums are exactly the old
 * queries' (test/integration/rollups-parity.test.ts compares them on a mixed history).
 */
import { localTime } from '../../shared/hours.js';
import type { Db } from './db.js';
import { dayKeyer, siteKey, siteOf } from './rollups.js';
import { exceptionCountsFromRows } from './trends-raw.js';

export interface Tally {
  days: Map<string, { byApp: Map<string, number>; inCallMs: number; n: number }>;
  sites: Map<string | null, number>;
  hosts: Map<string, number>;
  total: number;
  inCallMs: number;
  shown: number;
  clicked: number;
  claimed: number;
  accepted: number;
  rejected: number;
}

const QUARTER = 900_000;
export const emptyTally = (): Tally => ({ days: new Map(), sites: new Map(), hosts: new Map(), total: 0, inCallMs: 0, shown: 0, clicked: 0, claimed: 0, accepted: 0, rejected: 0 });
export const bump = <K>(m: Map<K, number>, k: K, n: number) => m.set(k, (m.get(k) ?? 0) + n);

export function addDay(t: Tally, day: string, app: string, n: number, inCallMs: number): void {
  let d = t.days.get(day);
  if (!d) t.days.set(day, (d = { byApp: new Map(), inCallMs: 0, n: 0 }));
  bump(d.byApp, app, n);
  d.inCallMs += inCallMs;
  d.n += n;
}

export const nextDay = (day: string): string => new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
const nextMonth = (month: string): string => {
  const [y, m] = month.split('-').map(Number) as [number, number];
  return new Date(Date.UTC(y, m, 1)).toISOString().slice(0, 7);
};

/** The first instant (a quarter hour) whose local date, in the roll-ups' sense, is `day` or later. */
export function dayStart(tz: string, day: string): number {
  let t = Date.parse(`${day}T00:00:00Z`) - 15 * 3600_000; // no zone is ahead of UTC by more than 14 h
  // By hours, then back one and by quarters: a few Intl calls, not a hundred.
  while (localTime(tz, new Date(t)).date < day) t += 3_600_000;
  t -= 3_600_000;
  while (localTime(tz, new Date(t)).date < day) t += QUARTER;
  return t;
}

/** The whole local days [from, to) inside [since, until), or null when there are none. */
export function wholeDays(tz: string, since: number, until: number): { from: string; to: string; start: number; end: number } | null {
  let from = localTime(tz, new Date(Math.ceil(since / QUARTER) * QUARTER)).date;
  let start = dayStart(tz, from);
  if (start < since) start = dayStart(tz, (from = nextDay(from)));
  const to = localTime(tz, new Date(Math.floor(until / QUARTER) * QUARTER)).date;
  return from < to ? { from, to, start, end: dayStart(tz, to) } : null;
}

/** Splits days [from, to) into whole months and the days left at either end. */
export function monthsOf(from: string, to: string): { months: [string, string] | null; dayRanges: Array<[string, string]> } {
  let m = from.slice(0, 7);
  if (`${m}-01` < from) m = nextMonth(m);
  if (`${nextMonth(m)}-01` > to) return { months: null, dayRanges: [[from, to]] };
  let last = m;
  while (`${nextMonth(nextMonth(last))}-01` <= to) last = nextMonth(last);
  return { months: [m, last], dayRanges: [[from, `${m}-01`], [`${nextMonth(last)}-01`, to]] };
}

/**
 * Local day keyers by zone (Intl once per UTC hour, rollups.ts), kept across calls: mapping
 * each 15-minute bucket through Intl cost more than the queries themselves.
 */
const keyers = new Map<string, (at: number) => string>();
function keyerFor(tz: string): (at: number) => string {
  let k = keyers.get(tz);
  if (!k) {
    if (keyers.size > 50) keyers.clear();
    keyers.set(tz, (k = dayKeyer(tz)));
  }
  return k;
}

/** Counts from the violations themselves (the ragged ends; or everything, without roll-ups). */
export function rawTally(db: Db, t: Tally, since: number, until: number, tz: string, now: number, site?: string): void {
  if (since >= until) return;
  const where = `started_at >= @since AND started_at < @until${site !== undefined ? ' AND site = @site' : ''}`;
  const args = { since, until, now, ...(site !== undefined ? { site } : {}) };
  const dayOf = keyerFor(tz);
  // Arrays, not row objects (.raw): building an object per row was most of the time.
  const rows = db.prepare<typeof args, [number, string, number, number, number, number]>(
    `SELECT started_at / ${QUARTER} AS bucket, app, count(*) AS n,
       sum(CASE WHEN state = 'in-call' THEN coalesce(ended_at, @now) - started_at ELSE 0 END) AS incall,
       count(nudge_shown_at) AS shown, count(nudge_clicked_at) AS clicked
     FROM violations WHERE ${where} GROUP BY bucket, app`,
  ).raw().all(args);
  for (const [bucket, app, n, incall, shown, clicked] of rows) {
    addDay(t, dayOf(bucket * QUARTER), app, n, incall);
    t.total += n;
    t.inCallMs += incall;
    t.shown += shown;
    t.clicked += clicked;
  }
  const { now: _now, ...keyArgs } = args;
  for (const [k, n] of db.prepare<typeof keyArgs, [string | null, number]>(`SELECT site, count(*) FROM violations WHERE ${where} GROUP BY site`).raw().all(keyArgs)) bump(t.sites, k, n);
  for (const [k, n] of db.prepare<typeof keyArgs, [string, number]>(`SELECT hostname, count(*) FROM violations WHERE ${where} GROUP BY hostname`).raw().all(keyArgs)) bump(t.hosts, k, n);
  const e = db.prepare<typeof keyArgs, { claimed: number; accepted: number; rejected: number }>(
    `SELECT count(e.violation_id) AS claimed, coalesce(sum(e.decision = 'accepted'), 0) AS accepted, coalesce(sum(e.decision = 'rejected'), 0) AS rejected
     FROM violations v JOIN exceptions e ON e.agent_id = v.agent_id AND e.violation_id = v.id WHERE ${where.replaceAll('started_at', 'v.started_at').replace('site =', 'v.site =')}`,
  ).get(keyArgs)!;
  t.claimed += e.claimed;
  t.accepted += e.accepted;
  t.rejected += e.rejected;
}

/** Counts of the whole days [from, to) from the roll-ups (rollup tz). */
function rollupTally(db: Db, t: Tally, from: string, to: string, now: number, site?: string): void {
  const bySite = site !== undefined;
  const daysTable = bySite ? 'rollup_site_days' : 'rollup_days';
  const args = { from, to, now, ...(bySite ? { site: siteKey(site) } : {}) };
  const rows = db.prepare<typeof args, [string, string, number, number, number, number, number, number, number]>(
    `SELECT day, app, sum(n), sum(incall_ms + open_incall * @now - open_start), sum(shown), sum(clicked), sum(claimed), sum(accepted), sum(rejected)
     FROM ${daysTable} WHERE ${bySite ? 'site = @site AND ' : ''}day >= @from AND day < @to GROUP BY day, app`,
  ).raw().all(args);
  for (const [day, app, n, incall, shown, clicked, claimed, accepted, rejected] of rows) {
    addDay(t, day, app, n, incall);
    t.total += n;
    t.inCallMs += incall;
    t.shown += shown;
    t.clicked += clicked;
    t.claimed += claimed;
    t.accepted += accepted;
    t.rejected += rejected;
  }
  // Top-N keys: whole months from the month tables, the days at either end from the day tables.
  const { months, dayRanges } = monthsOf(from, to);
  const siteWhere = bySite ? 'site = @site AND ' : '';
  const keyArgs: Record<string, string> = bySite ? { site: siteKey(site) } : {};
  const sum = (daysTable: string, monthsTable: string, col: string, into: (k: string, n: number) => void) => {
    const parts: Array<{ sql: string; a: Record<string, string> }> = [];
    if (months) parts.push({ sql: `SELECT ${col}, sum(n) FROM ${monthsTable} WHERE ${siteWhere}month >= @a AND month <= @b GROUP BY ${col}`, a: { a: months[0], b: months[1] } });
    for (const [a, b] of dayRanges) if (a < b) parts.push({ sql: `SELECT ${col}, sum(n) FROM ${daysTable} WHERE ${siteWhere}day >= @a AND day < @b GROUP BY ${col}`, a: { a, b } });
    for (const p of parts) for (const [k, n] of db.prepare<Record<string, string>, [string, number]>(p.sql).raw().all({ ...keyArgs, ...p.a })) into(k, n);
  };
  sum('rollup_site_days', 'rollup_site_months', 'site', (k, n) => bump(t.sites, siteOf(k), n));
  sum('rollup_host_days', 'rollup_host_months', 'hostname', (k, n) => bump(t.hosts, k, n));
}

/**
 * The tally of [since, until) (one site, or all), from roll-ups when they are counted in
 * `tz`, else null (the caller uses the raw queries).
 */
export function tallyRange(db: Db, rollupTz: string | null, since: number, until: number, tz: string, now: number, site?: string): Tally | null {
  if (rollupTz !== tz) return null;
  const t = emptyTally();
  const whole = wholeDays(tz, since, until);
  if (!whole) {
    rawTally(db, t, since, until, tz, now, site);
    return t;
  }
  rollupTally(db, t, whole.from, whole.to, now, site);
  rawTally(db, t, since, whole.start, tz, now, site);
  rawTally(db, t, whole.end, until, tz, now, site);
  return t;
}

export interface ExceptionCounts { claimed: number; accepted: number; rejected: number; pending: number; unexplained: number }

/**
 * Exception counts of [since, until) without the rest of a tally (the trends reply asks for
 * both; this is one summed row of `rollup_days` plus the ragged ends): from roll-ups
 * counted in `rollupTz` (totals need no zone of their own), else null.
 */
export function countsRange(db: Db, rollupTz: string | null, since: number, until: number): ExceptionCounts | null {
  if (rollupTz === null) return null;
  const whole = wholeDays(rollupTz, since, until);
  if (!whole) return exceptionCountsFromRows(db, since, until);
  const [total, claimed, accepted, rejected] = db.prepare<[string, string], [number, number, number, number]>(
    'SELECT coalesce(sum(n), 0), coalesce(sum(claimed), 0), coalesce(sum(accepted), 0), coalesce(sum(rejected), 0) FROM rollup_days WHERE day >= ? AND day < ?',
  ).raw().get(whole.from, whole.to)!;
  const c = { total, claimed, accepted, rejected };
  for (const [a, b] of [[since, whole.start], [whole.end, until]] as const) {
    if (a >= b) continue;
    const r = exceptionCountsFromRows(db, a, b);
    c.total += r.claimed + r.unexplained;
    c.claimed += r.claimed;
    c.accepted += r.accepted;
    c.rejected += r.rejected;
  }
  return { claimed: c.claimed, accepted: c.accepted, rejected: c.rejected, pending: c.claimed - c.accepted - c.rejected, unexplained: c.total - c.claimed };
}

/** The top `limit` of a count map: most first, then by key (the old queries' LIMIT, made stable). */
export function topOf<K extends string | null>(m: Map<K, number>, limit: number): Array<[K, number]> {
  // Keys in binary order, as SQLite's ORDER BY on text.
  const key = (k: K) => k ?? '';
  return [...m].sort((a, b) => b[1] - a[1] || (key(a[0]) < key(b[0]) ? -1 : key(a[0]) > key(b[0]) ? 1 : 0)).slice(0, limit);
}
