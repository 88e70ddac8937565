/**
 * Trends, report figures, exception counts and filter lists from the roll-ups on
 * PostgreSQL, exactly as tally.ts / filter-values.ts count them on SQLite (their pure
 * parts are used as they are): whole local days from the day and month tables, the ragged
 * ends of a range from the violations through the started_at index.
 */
import type { FilterValues } from '../../../shared/api-types.js';
import { localTime } from '../../../shared/hours.js';
import { FILTER_LIMITS } from '../filter-values.js';
import { siteKey, siteOf } from '../rollups.js';
import { addDay, bump, emptyTally, monthsOf, wholeDays, type Tally } from '../tally.js';
import type { PgDb } from './db.js';
import type { PgPeople } from './people.js';

const QUARTER = 900_000;

/** Counts from the violations themselves, for [since, until) (the ragged ends). */
async function rawTally(db: PgDb, t: Tally, since: number, until: number, tz: string, now: number, site?: string): Promise<void> {
  if (since >= until) return;
  const bySite = site !== undefined;
  const where = `v.started_at >= $1 AND v.started_at < $2${bySite ? ' AND v.site = $3' : ''}`;
  const args: unknown[] = bySite ? [since, until, site] : [since, until];
  const nowArg = `$${args.length + 1}`;
  const [days, sites, hosts, e] = await Promise.all([
    db.query<{ bucket: number; app: string; n: number; incall: number; shown: number; clicked: number }>(
      `SELECT v.started_at / ${QUARTER} AS bucket, v.app, count(*) AS n,
         coalesce(sum(CASE WHEN v.state = 'in-call' THEN coalesce(v.ended_at, ${nowArg}) - v.started_at ELSE 0 END), 0) AS incall,
         count(v.nudge_shown_at) AS shown, count(v.nudge_clicked_at) AS clicked
       FROM violations v WHERE ${where} GROUP BY bucket, v.app`, [...args, now],
    ),
    db.query<{ k: string | null; n: number }>(`SELECT v.site AS k, count(*) AS n FROM violations v WHERE ${where} GROUP BY v.site`, args),
    db.query<{ k: string; n: number }>(`SELECT v.hostname AS k, count(*) AS n FROM violations v WHERE ${where} GROUP BY v.hostname`, args),
    db.query<{ claimed: number; accepted: number; rejected: number }>(
      `SELECT count(*) AS claimed, count(*) FILTER (WHERE e.decision = 'accepted') AS accepted, count(*) FILTER (WHERE e.decision = 'rejected') AS rejected
       FROM violations v JOIN exceptions e ON e.agent_id = v.agent_id AND e.violation_id = v.id WHERE ${where}`, args,
    ),
  ]);
  for (const r of days.rows) {
    addDay(t, localTime(tz, new Date(r.bucket * QUARTER)).date, r.app, r.n, r.incall);
    t.total += r.n;
    t.inCallMs += r.incall;
    t.shown += r.shown;
    t.clicked += r.clicked;
  }
  for (const r of sites.rows) bump(t.sites, r.k, r.n);
  for (const r of hosts.rows) bump(t.hosts, r.k, r.n);
  const x = e.rows[0]!;
  t.claimed += x.claimed;
  t.accepted += x.accepted;
  t.rejected += x.rejected;
}

/** Counts of the whole local days [from, to) from the roll-ups. */
async function rollupTally(db: PgDb, t: Tally, from: string, to: string, now: number, site?: string): Promise<void> {
  const bySite = site !== undefined;
  const siteWhere = bySite ? 'site = $3 AND ' : '';
  const siteArg = bySite ? [siteKey(site)] : [];
  const { months, dayRanges } = monthsOf(from, to);
  const keyParts = (daysTable: string, monthsTable: string, col: string) => {
    const parts: Array<Promise<{ rows: Array<{ k: string; n: number }> }>> = [];
    if (months) parts.push(db.query(`SELECT ${col} AS k, sum(n) AS n FROM ${monthsTable} WHERE ${siteWhere}month >= $1 AND month <= $2 GROUP BY ${col}`, [months[0], months[1], ...siteArg]));
    for (const [a, b] of dayRanges) if (a < b) parts.push(db.query(`SELECT ${col} AS k, sum(n) AS n FROM ${daysTable} WHERE ${siteWhere}day >= $1 AND day < $2 GROUP BY ${col}`, [a, b, ...siteArg]));
    return Promise.all(parts);
  };
  const [days, sites, hosts] = await Promise.all([
    db.query<{ day: string; app: string; n: number; incall: number; shown: number; clicked: number; claimed: number; accepted: number; rejected: number }>(
      `SELECT day, app, sum(n) AS n, sum(incall_ms + open_incall * $${siteArg.length + 3} - open_start) AS incall, sum(shown) AS shown, sum(clicked) AS clicked,
         sum(claimed) AS claimed, sum(accepted) AS accepted, sum(rejected) AS rejected
       FROM ${bySite ? 'rollup_site_days' : 'rollup_days'} WHERE ${siteWhere}day >= $1 AND day < $2 GROUP BY day, app`,
      [from, to, ...siteArg, now],
    ),
    keyParts('rollup_site_days', 'rollup_site_months', 'site'),
    keyParts('rollup_host_days', 'rollup_host_months', 'hostname'),
  ]);
  for (const r of days.rows) {
    addDay(t, r.day, r.app, r.n, r.incall);
    t.total += r.n;
    t.inCallMs += r.incall;
    t.shown += r.shown;
    t.clicked += r.clicked;
    t.claimed += r.claimed;
    t.accepted += r.accepted;
    t.rejected += r.rejected;
  }
  for (const p of sites) for (const r of p.rows) bump(t.sites, siteOf(r.k), r.n);
  for (const p of hosts) for (const r of p.rows) bump(t.hosts, r.k, r.n);
}

/** tally.ts `tallyRange` on PostgreSQL: null unless the roll-ups are counted (ready) in `tz`. */
export async function pgTallyRange(db: PgDb, rollupTz: string | null, since: number, until: number, tz: string, now: number, site?: string): Promise<Tally | null> {
  if (rollupTz !== tz) return null;
  const t = emptyTally();
  const whole = wholeDays(tz, since, until);
  if (!whole) {
    await rawTally(db, t, since, until, tz, now, site);
    return t;
  }
  await Promise.all([
    rollupTally(db, t, whole.from, whole.to, now, site),
    rawTally(db, t, since, whole.start, tz, now, site),
    rawTally(db, t, whole.end, until, tz, now, site),
  ]);
  return t;
}

/** filter-values.ts on PostgreSQL: the lists from `filter_values` and the month roll-ups (ties cut in byte order, as SQLite). */
export async function pgFilterValues(db: PgDb, people: PgPeople): Promise<FilterValues> {
  const list = async (sql: string, limit: number) => (await db.query<{ value: string }>(`SELECT value FROM (${sql}) s ORDER BY n DESC, value COLLATE "C" LIMIT ${limit}`)).rows.map((r) => r.value).sort();
  const [users, apps, sites, hostnames] = await Promise.all([
    list("SELECT value, n FROM filter_values WHERE kind = 'user' AND n > 0", FILTER_LIMITS.user),
    list('SELECT app AS value, sum(n) AS n FROM rollup_site_months GROUP BY app', FILTER_LIMITS.app),
    list("SELECT substr(site, 2) AS value, sum(n) AS n FROM rollup_site_months WHERE site <> '' GROUP BY site", FILTER_LIMITS.site),
    list('SELECT hostname AS value, sum(n) AS n FROM rollup_host_months GROUP BY hostname', FILTER_LIMITS.hostname),
  ]);
  return { apps, sites, hostnames, users: [...new Set(users.map((u) => people.show(u).user ?? ''))].filter(Boolean).sort() };
}
