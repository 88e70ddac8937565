/**
 * Roll-ups (issue 18) on a real SQLite file, through the store's real ingest path:
 * - they equal a recount from the violations after a mixed history (starts, updates, late
 *   events moving a start across midnight, ends, resends, nudges, exceptions, retention,
 *   a subject erased);
 * - trends, the report, exception counts and filter values read from them equal the old
 *   queries (trends-raw.ts, figuresFromRows) for ragged ranges, whole days and a year;
 * - day boundaries in half-hour zones (Asia/Kolkata; Australia/Adelaide across both DST changes);
 * - retention removes the roll-ups of expired days;
 * - `rollups rebuild` (the real CLI) on a store made before migration 15 equals what ingest keeps.
 */
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDb } from '../../server/store/db.js';
import { createStore, type SqliteStore } from '../../server/store/index.js';
import { pruneAll } from '../../server/store/retention.js';
import { exceptionCountsFromRows, filterValuesFromRows, trendsFromRows } from '../../server/store/trends-raw.js';
import { summarise } from '../../server/reports/content.js';
import { figuresFromRows } from '../../server/reports/store.js';
import { localMidnight } from '../../server/reports/period.js';
import { packageRoot } from '../../shared/paths.js';
import type { Trends } from '../../shared/api-types.js';
import { dumpRollups, ingestDayCases, ingestHistory, recount, agentOf, uuid } from '../support/rollup-history.js';
import { tempDir } from '../support/server.js';

const NOW = Date.parse('2026-11-30T03:07:00Z');
const DAY = 86_400_000;
const CLI = join(packageRoot(), 'build', 'server', 'cli.js');

/**
 * Top-N lists made comparable: the old LIMIT 10 left ties to SQLite, so entries tied with
 * the last one kept are compared by count only; every other entry by key and count.
 */
function topComparable<K extends string>(list: Array<Record<K, string> & { count: number }>, key: K) {
  const cut = list.length >= 10 ? list[list.length - 1]!.count : -1;
  return { counts: list.map((e) => e.count), above: list.filter((e) => e.count > cut).map((e) => `${e[key]}=${e.count}`).sort() };
}
const stable = (t: Trends) => ({ ...t, topSites: topComparable(t.topSites, 'site'), topWorkstations: topComparable(t.topWorkstations, 'hostname') });

describe('roll-ups', () => {
  const open: SqliteStore[] = [];
  const dirs: string[] = [];
  const newStore = (tz: string | null, now = () => NOW) => {
    const dir = tempDir('cg-rollups-');
    dirs.push(dir);
    const store = createStore(dir, now);
    open.push(store);
    if (tz) expect(store.rollups.prepare(tz)).toBe('ready');
    return { store, dir };
  };
  afterEach(async () => {
    for (const s of open.splice(0)) await s.close();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('equal a recount, and answer what the old queries answer, after a mixed history with retention and an erasure', async () => {
    const tz = 'Australia/Adelaide';
    const { store } = newStore(tz);
    const users = await ingestHistory(store, { violations: 1500, now: NOW, days: 420 });
    expect(dumpRollups(store.db, NOW)).toEqual(recount(store.db, tz, NOW));

    // Retention (365 days) and a data-subject erasure move them too.
    const pruned = await pruneAll(store.db, { days: 365, auditDays: 730 }, NOW, 50);
    expect(pruned.violations).toBeGreaterThan(50);
    await store.subjects.eraseSubject(users[0]!, 'test');
    expect(dumpRollups(store.db, NOW)).toEqual(recount(store.db, tz, NOW));
    expect(store.db.prepare("SELECT count(*) AS n FROM filter_values WHERE kind = 'user' AND value = ?").get(users[0])).toEqual({ n: 0 });

    const ranges: Array<[number, number]> = [
      [NOW - 365 * DAY, NOW + 60_000], // the dashboard's "last 12 months"
      [NOW - 30 * DAY, NOW + 60_000],
      [localMidnight(tz, '2026-03-01'), localMidnight(tz, '2026-06-01')], // whole local months
      [NOW - 3 * DAY - 4321, NOW - DAY + 777], // ragged at both ends
      [NOW - 5 * 3600_000, NOW], // inside one day
      [localMidnight(tz, '2026-04-04'), localMidnight(tz, '2026-04-06')], // DST ends 2026-04-05
      [localMidnight(tz, '2026-10-03') + 1234, localMidnight(tz, '2026-10-06')], // DST starts 2026-10-04
    ];
    for (const [since, until] of ranges) {
      expect(stable(await store.violations.trends(since, until, tz))).toEqual(stable(trendsFromRows(store.db, NOW, since, until, tz)));
      expect(await store.exceptions.counts(since, until)).toEqual(exceptionCountsFromRows(store.db, since, until));
      for (const site of ['north', 'Coast', '']) {
        const p = { key: 'x', firstDay: '', lastDay: '', since, until };
        const fromRollups = await store.reports.figures(site, p.since, p.until, NOW, tz);
        if (fromRollups.total) expect(fromRollups.days).toBeDefined(); // read from the roll-ups
        expect(summarise(fromRollups, tz, (a) => a.toUpperCase())).toEqual(summarise(figuresFromRows(store.db, site, p.since, p.until, NOW), tz, (a) => a.toUpperCase()));
      }
    }
    // Another zone than the one counted in: the old queries answer (same result by definition).
    expect(await store.violations.trends(NOW - 30 * DAY, NOW, 'Asia/Kolkata')).toEqual(trendsFromRows(store.db, NOW, NOW - 30 * DAY, NOW, 'Asia/Kolkata'));
    expect(await store.violations.filterValues()).toEqual(filterValuesFromRows(store.db, store.people));
  });

  it('put a violation on its local day in half-hour zones, across midnight and DST changes', async () => {
    for (const tz of ['Asia/Kolkata', 'Australia/Adelaide']) {
      const { store } = newStore(tz);
      const want = await ingestDayCases(store, tz);
      const days = store.db.prepare<[], { day: string; n: number }>('SELECT day, sum(n) AS n FROM rollup_days GROUP BY day ORDER BY day').all();
      expect(days).toEqual([...want].map(([day, n]) => ({ day, n })));
      // Each local day on its own, from roll-ups (whole days) and with ragged ends, equals the old query.
      for (const day of want.keys()) {
        const since = localMidnight(tz, day);
        const next = new Date(Date.parse(`${day}T12:00:00Z`) + DAY).toISOString().slice(0, 10);
        const until = localMidnight(tz, next);
        const t = await store.violations.trends(since, until, tz);
        expect(t.days).toEqual([{ day, byApp: { zoom: want.get(day) }, inCallMinutes: 0 }]);
        expect(stable(t)).toEqual(stable(trendsFromRows(store.db, NOW, since, until, tz)));
        expect(stable(await store.violations.trends(since + 60_000, until - 60_000, tz))).toEqual(stable(trendsFromRows(store.db, NOW, since + 60_000, until - 60_000, tz)));
      }
    }
  });

  it('lose the roll-ups of expired days to retention', async () => {
    const tz = 'Australia/Adelaide';
    const { store } = newStore(tz);
    const old = NOW - 400 * DAY;
    const recent = NOW - 2 * DAY;
    const a = agentOf(1);
    const ev = (i: number, kind: 'started' | 'ended', at: number) => ({ id: uuid(3, i), violationId: uuid(2, Math.floor(i / 2)), kind, app: 'zoom', state: 'in-call' as const, via: 'process' as const, pids: [1], evidence: [], at: new Date(at).toISOString(), user: 'CLINIC\\dr.old' });
    await store.violations.ingest(a, [ev(0, 'started', old), ev(1, 'ended', old + 600_000), ev(2, 'started', recent), ev(3, 'ended', recent + 600_000)]);
    const oldDay = new Intl.DateTimeFormat('en-CA', { timeZone: tz }).format(new Date(old));
    const daysHeld = () => store.db.prepare<[], { day: string }>('SELECT DISTINCT day FROM rollup_site_days ORDER BY day').all().map((r) => r.day);
    expect(daysHeld()).toHaveLength(2);
    expect(daysHeld()[0]).toBe(oldDay);
    await pruneAll(store.db, { days: 365, auditDays: 730 }, NOW);
    expect(daysHeld()).toEqual([new Intl.DateTimeFormat('en-CA', { timeZone: tz }).format(new Date(recent))]);
    for (const t of ['rollup_days', 'rollup_site_months', 'rollup_host_days', 'rollup_host_months']) {
      expect(store.db.prepare(`SELECT count(*) AS n FROM ${t} WHERE ${t.endsWith('months') ? 'month' : 'day'} < ?`).get(t.endsWith('months') ? oldDay.slice(0, 7) + '~' : oldDay + '~')).toEqual({ n: 0 });
    }
    expect(dumpRollups(store.db, NOW)).toEqual(recount(store.db, tz, NOW));
  });

  it('are rebuilt by "rollups rebuild" on a store made before migration 15 to what ingest keeps', async () => {
    const tz = 'Asia/Kolkata';
    const kept = newStore(tz).store;
    await ingestHistory(kept, { violations: 600, now: NOW, days: 120, seed: 11 });
    const { store: before, dir } = newStore(null);
    await ingestHistory(before, { violations: 600, now: NOW, days: 120, seed: 11 });
    await before.close();
    open.splice(open.indexOf(before), 1);
    // Back to the schema before migration 15: no roll-up tables at all.
    const db = openDb(join(dir, 'consultguard.db'));
    db.exec(`DROP TABLE rollup_state; DROP TABLE rollup_days; DROP TABLE rollup_site_days; DROP TABLE rollup_site_months; DROP TABLE rollup_host_days;
      DROP TABLE rollup_host_months; DROP TABLE filter_values; DELETE FROM schema_migrations WHERE version = 15`);
    db.close();
    const run = execFileSync(process.execPath, [CLI, 'rollups', 'rebuild', '--data', dir, '--timezone', tz], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(run).toMatch(/roll-ups rebuilt: 600 violations counted in Asia\/Kolkata/);
    const rebuilt = openDb(join(dir, 'consultguard.db'));
    try {
      expect(dumpRollups(rebuilt, NOW)).toEqual(dumpRollups(kept.db, NOW));
      expect(rebuilt.prepare('SELECT tz, ready FROM rollup_state').get()).toEqual({ tz, ready: 1 });
      expect(rebuilt.prepare("SELECT actor, detail FROM audit WHERE action = 'rollups-rebuild'").all()).toEqual([expect.objectContaining({ detail: JSON.stringify({ timezone: tz, violations: 600 }) })]);
    } finally {
      rebuilt.close();
    }
  });

  it('refuse a time zone that is not one, naming the option', () => {
    const { dir } = newStore('UTC');
    let err = '';
    try {
      execFileSync(process.execPath, [CLI, 'rollups', 'rebuild', '--data', dir, '--timezone', 'Mars/Olympus'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      err = String((e as { stderr?: string }).stderr);
      expect((e as { status?: number }).status).toBe(2);
    }
    expect(err).toMatch(/--timezone: "Mars\/Olympus" is not an IANA time zone/);
  });
});
