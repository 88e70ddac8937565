/**
 * Roll-ups (issue 18) on a real PostgreSQL cluster (test/support/postgres.ts), through the
 * store's real ingest path, beside the SQLite engine fed the same history:
 * - they equal a recount from the violations, and the SQLite engine's roll-ups row for row,
 *   after a mixed history (starts, updates, late events across midnight, ends, resends,
 *   nudges, exceptions), retention and a subject erased; trends, exception counts, report
 *   figures and filter lists read from them equal SQLite's and the old queries';
 * - two instances (two pools) ingesting at once, one agent's batches on both (a failover
 *   resend) and a rebuild running meanwhile, lose no count;
 * - day boundaries in half-hour zones; retention removes the roll-ups of expired days;
 * - `rollups rebuild --database postgres://...` (the real CLI) counts a store that has none,
 *   and so does a real server started on it (in the background), which then answers trends
 *   from them and streams a CSV export through its cursor; after `migrate --to` they are
 *   counted again.
 */
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createStore, type SqliteStore } from '../../server/store/index.js';
import { openPostgresStore, type PgStore } from '../../server/store/pg/index.js';
import { trendsFromRows, exceptionCountsFromRows } from '../../server/store/trends-raw.js';
import { summarise } from '../../server/reports/content.js';
import { localMidnight } from '../../server/reports/period.js';
import { packageRoot } from '../../shared/paths.js';
import type { Trends } from '../../shared/api-types.js';
import { agentOf, dumpRollups, dumpRollupsWith, ingestDayCases, ingestHistory, RECOUNT_SQL, recountOf, uuid, type RecountRow, type Row } from '../support/rollup-history.js';
import { pgSkipReason, sharedPostgres } from '../support/postgres.js';
import { freePort, startServerProcess } from '../support/server-process.js';
import { tempDir } from '../support/server.js';

const run = promisify(execFile);
const NOW = Date.parse('2026-11-30T03:07:00Z');
const DAY = 86_400_000;
const CLI = join(packageRoot(), 'build', 'server', 'cli.js');
const skip = pgSkipReason();
if (skip) process.stderr.write(`${skip}\n`);

/** Top-N lists made comparable (ties with the last entry kept compare by count), as rollups.test.ts. */
function topComparable<K extends string>(list: Array<Record<K, string> & { count: number }>, key: K) {
  const cut = list.length >= 10 ? list[list.length - 1]!.count : -1;
  return { counts: list.map((e) => e.count), above: list.filter((e) => e.count > cut).map((e) => `${e[key]}=${e.count}`).sort() };
}
const stable = (t: Trends) => ({ ...t, topSites: topComparable(t.topSites, 'site'), topWorkstations: topComparable(t.topWorkstations, 'hostname') });

const pgDump = (s: PgStore, now = NOW) => dumpRollupsWith(async (sql) => (await s.pg.query<Row>(sql)).rows, now);
const pgRecount = async (s: PgStore, tz: string, now = NOW) => recountOf((await s.pg.query<RecountRow>(RECOUNT_SQL)).rows, tz, now);

describe.skipIf(skip !== null)('roll-ups on PostgreSQL', () => {
  const open: Array<SqliteStore | PgStore> = [];
  const dirs: string[] = [];
  const newPg = async (tz: string | null, url?: string) => {
    const dir = tempDir('cg-rollpg-');
    dirs.push(dir);
    const u = url ?? (await (await sharedPostgres()).newDatabase('rollups'));
    const store = (await openPostgresStore(u, { dataDir: dir, now: () => NOW })) as PgStore;
    open.push(store);
    if (tz) expect(await store.rollups.prepare(tz)).toBe('ready');
    return { store, url: u };
  };
  const newLite = (tz: string) => {
    const dir = tempDir('cg-rollsq-');
    dirs.push(dir);
    const store = createStore(dir, () => NOW);
    open.push(store);
    expect(store.rollups.prepare(tz)).toBe('ready');
    return { lite: store, dir };
  };
  afterEach(async () => {
    for (const s of open.splice(0)) await s.close();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  afterAll(async () => {
    if (!skip) await (await sharedPostgres()).destroy();
  });

  it('equal a recount and the SQLite engine\'s roll-ups after a mixed history, retention and an erasure; reads answer as SQLite\'s', async () => {
    const tz = 'Australia/Adelaide';
    const { store: pg } = await newPg(tz);
    const { lite } = newLite(tz);
    const history = { violations: 700, now: NOW, days: 420 };
    const users = await ingestHistory(pg, history);
    await ingestHistory(lite, history);
    const held = await pgDump(pg);
    expect(held.rollup_days!.length).toBeGreaterThan(300);
    expect(held).toEqual(await pgRecount(pg, tz));
    expect(held).toEqual(dumpRollups(lite.db, NOW));

    const prunedPg = await pg.retention.run({ days: 365, auditDays: 730 }, NOW, 50);
    const prunedLite = await lite.retention.run({ days: 365, auditDays: 730 }, NOW, 50);
    expect(prunedPg.violations).toBeGreaterThan(50);
    expect(prunedPg.violations).toBe(prunedLite.violations);
    expect(prunedPg.exceptions).toBe(prunedLite.exceptions);
    await pg.subjects.eraseSubject(users[0]!, 'test');
    await lite.subjects.eraseSubject(users[0]!, 'test');
    const after = await pgDump(pg);
    expect(after).toEqual(await pgRecount(pg, tz));
    expect(after).toEqual(dumpRollups(lite.db, NOW));
    expect(after.filter_values!.some((r) => r.value === users[0])).toBe(false);

    const ranges: Array<[number, number]> = [
      [NOW - 365 * DAY, NOW + 60_000],
      [NOW - 30 * DAY, NOW + 60_000],
      [localMidnight(tz, '2026-03-01'), localMidnight(tz, '2026-06-01')],
      [NOW - 3 * DAY - 4321, NOW - DAY + 777],
      [NOW - 5 * 3600_000, NOW],
      [localMidnight(tz, '2026-04-04'), localMidnight(tz, '2026-04-06')],
      [localMidnight(tz, '2026-10-03') + 1234, localMidnight(tz, '2026-10-06')],
    ];
    for (const [since, until] of ranges) {
      const t = await pg.violations.trends(since, until, tz);
      expect(t).toEqual(await lite.violations.trends(since, until, tz));
      expect(stable(t)).toEqual(stable(trendsFromRows(lite.db, NOW, since, until, tz)));
      expect(await pg.exceptions.counts(since, until)).toEqual(exceptionCountsFromRows(lite.db, since, until));
      for (const site of ['north', 'Coast', '']) {
        const f = await pg.reports.figures(site, since, until, NOW, tz);
        if (f.total) expect(f.days).toBeDefined(); // read from the roll-ups
        expect(f).toEqual(await lite.reports.figures(site, since, until, NOW, tz));
        expect(summarise(f, tz, (a) => a.toUpperCase())).toEqual(summarise(await lite.reports.figures(site, since, until, NOW), tz, (a) => a.toUpperCase()));
      }
    }
    // Another zone than the one counted in: the old queries answer, as on SQLite.
    expect(stable(await pg.violations.trends(NOW - 30 * DAY, NOW, 'Asia/Kolkata'))).toEqual(stable(trendsFromRows(lite.db, NOW, NOW - 30 * DAY, NOW, 'Asia/Kolkata')));
    // Pseudonyms differ between the two stores (each its own key); the lists do not.
    const fvPg = await pg.violations.filterValues();
    const fvLite = await lite.violations.filterValues();
    expect({ ...fvPg, users: fvPg.users.length }).toEqual({ ...fvLite, users: fvLite.users.length });
    expect(fvPg.users.length).toBeGreaterThan(5);
  }, 180_000);

  it('lose no count when two instances ingest at once (one agent on both) while a rebuild runs', async () => {
    const tz = 'Asia/Kolkata';
    const { store: a, url } = await newPg(tz);
    const { store: b } = await newPg(null, url);
    // Same agents and violation ids on both instances, different histories: the same
    // violation is folded by both, events resent from one to the other.
    await Promise.all([
      ingestHistory(a, { violations: 300, now: NOW, days: 20, seed: 5 }),
      ingestHistory(b, { violations: 300, now: NOW, days: 20, seed: 6 }),
      ingestHistory(b, { violations: 300, now: NOW, days: 20, seed: 5 }),
      (async () => {
        // Counting again from scratch while both ingest: chunks interleave with their batches.
        await new Promise((r) => setTimeout(r, 300));
        const r = await a.rollups.rebuild(tz, { chunk: 40 });
        expect(r.counted).toBeGreaterThan(0);
      })(),
    ]);
    expect(await a.rollups.state()).toMatchObject({ tz, ready: 1 });
    const held = await pgDump(a);
    expect(held.rollup_days!.reduce((n, r) => n + (r.n as number), 0)).toBe(Number((await a.pg.query<{ n: number }>('SELECT count(*) AS n FROM violations')).rows[0]!.n));
    expect(held).toEqual(await pgRecount(a, tz));
  }, 180_000);

  it('put a violation on its local day in half-hour zones, across midnight and DST changes', async () => {
    for (const tz of ['Asia/Kolkata', 'Australia/Adelaide']) {
      const { store } = await newPg(tz);
      const want = await ingestDayCases(store, tz);
      const days = (await store.pg.query<{ day: string; n: number }>('SELECT day, sum(n) AS n FROM rollup_days GROUP BY day ORDER BY day')).rows;
      expect(days).toEqual([...want].map(([day, n]) => ({ day, n })));
      for (const day of want.keys()) {
        const since = localMidnight(tz, day);
        const next = new Date(Date.parse(`${day}T12:00:00Z`) + DAY).toISOString().slice(0, 10);
        const t = await store.violations.trends(since, localMidnight(tz, next), tz);
        expect(t.days).toEqual([{ day, byApp: { zoom: want.get(day) }, inCallMinutes: 0 }]);
        // Ragged ends: the day's first and last minute, counted from the rows, keep it on its day too.
        const edge = await store.violations.trends(since, since + 60_000, tz);
        const last = await store.violations.trends(localMidnight(tz, next) - 60_000, localMidnight(tz, next), tz);
        for (const d of [...edge.days, ...last.days]) expect(d.day).toBe(day);
      }
    }
  });

  it('lose the roll-ups of expired days to retention', async () => {
    const tz = 'Australia/Adelaide';
    const { store } = await newPg(tz);
    const old = NOW - 400 * DAY;
    const recent = NOW - 2 * DAY;
    const ev = (i: number, kind: 'started' | 'ended', at: number) => ({ id: uuid(3, i), violationId: uuid(2, Math.floor(i / 2)), kind, app: 'zoom', state: 'in-call' as const, via: 'process' as const, pids: [1], evidence: [], at: new Date(at).toISOString(), user: 'CLINIC\\dr.old' });
    await store.violations.ingest(agentOf(1), [ev(0, 'started', old), ev(1, 'ended', old + 600_000), ev(2, 'started', recent), ev(3, 'ended', recent + 600_000)]);
    const local = (at: number) => new Intl.DateTimeFormat('en-CA', { timeZone: tz }).format(new Date(at));
    const daysHeld = async () => (await store.pg.query<{ day: string }>('SELECT DISTINCT day FROM rollup_site_days ORDER BY day')).rows.map((r) => r.day);
    expect(await daysHeld()).toEqual([local(old), local(recent)]);
    await store.retention.run({ days: 365, auditDays: 730 }, NOW);
    expect(await daysHeld()).toEqual([local(recent)]);
    for (const t of ['rollup_days', 'rollup_site_months', 'rollup_host_days', 'rollup_host_months']) {
      const col = t.endsWith('months') ? 'month' : 'day';
      const upTo = t.endsWith('months') ? `${local(old).slice(0, 7)}~` : `${local(old)}~`;
      expect((await store.pg.query<{ n: number }>(`SELECT count(*) AS n FROM ${t} WHERE ${col} < $1`, [upTo])).rows[0]).toEqual({ n: 0 });
    }
    expect(await pgDump(store)).toEqual(await pgRecount(store, tz));
  });

  it('are counted by "rollups rebuild --database postgres://..." on a store that has none', async () => {
    const tz = 'Asia/Kolkata';
    const { store, url } = await newPg(null);
    await ingestHistory(store, { violations: 250, now: NOW, days: 60, seed: 11 });
    expect(await store.rollups.state()).toMatchObject({ tz: null, ready: 0 });
    expect((await pgDump(store)).rollup_days).toEqual([]);
    const { stdout } = await run(process.execPath, [CLI, 'rollups', 'rebuild', '--database', url, '--timezone', tz]);
    expect(stdout).toMatch(/roll-ups rebuilt: 250 violations counted in Asia\/Kolkata/);
    expect(await store.rollups.state()).toMatchObject({ tz, ready: 1 });
    expect(await pgDump(store)).toEqual(await pgRecount(store, tz));
    expect((await store.pg.query<{ detail: string }>("SELECT detail FROM audit WHERE action = 'rollups-rebuild'")).rows).toEqual([{ detail: JSON.stringify({ timezone: tz, violations: 250 }) }]);
    // The server's own plan at the next start: kept as counted.
    expect(await store.rollups.prepare(tz)).toBe('ready');
  }, 120_000);

  it('are counted by a server started on a store that has none; it serves trends from them and streams the CSV', async () => {
    const { store, url } = await newPg(null);
    // Started a day ago: the server's own clock is real time.
    const now = Date.now();
    await ingestHistory(store, { violations: 300, now: now - DAY, days: 30, seed: 3 });
    const dir = tempDir('cg-rollpg-srv-');
    dirs.push(dir);
    const cli = join(packageRoot(), 'build', 'server', 'cli.js');
    const token = (await run(process.execPath, [cli, 'token', 'create', '--role', 'lead', '--name', 'test', '--database', url, '--data', dir])).stdout.trim();
    const port = await freePort();
    const server = await startServerProcess(port, dir, ['--database', url]);
    try {
      // The demo policies' zone is UTC; the server counts in it without being asked.
      for (const deadline = Date.now() + 30_000; (await store.rollups.state()).ready !== 1 && Date.now() < deadline;) await new Promise((r) => setTimeout(r, 100));
      expect(await store.rollups.state()).toMatchObject({ tz: 'UTC', ready: 1 });
      const at = Date.now();
      expect(await pgDump(store, at)).toEqual(await pgRecount(store, 'UTC', at));
      const auth = { headers: { authorization: `Bearer ${token}` } };
      const since = new Date(now - 40 * DAY).toISOString();
      const trends = (await (await fetch(`http://127.0.0.1:${port}/api/trends?since=${since}`, auth)).json()) as Trends;
      expect(trends.timezone).toBe('UTC');
      expect(trends.nudges.violations).toBe(300);
      expect(trends.days.reduce((n, d) => n + Object.values(d.byApp).reduce((a, b) => a + b, 0), 0)).toBe(300);
      const csv = await fetch(`http://127.0.0.1:${port}/api/violations.csv`, auth);
      expect(csv.status).toBe(200);
      const lines = (await csv.text()).trim().split('\n');
      expect(lines).toHaveLength(301);
      const ids = (await store.pg.query<{ id: string }>('SELECT id FROM violations ORDER BY started_at DESC, seq DESC')).rows.map((r) => r.id);
      expect(ids.every((id, i) => lines[i + 1]!.includes(id))).toBe(true);
    } finally {
      await new Promise((r) => {
        server.once('exit', r);
        server.kill('SIGTERM');
      });
    }
  }, 120_000);

  it('are counted again after "migrate --to" into a database a server had already marked counted', async () => {
    const tz = 'Asia/Kolkata';
    const { store, url } = await newPg(tz);
    const { lite, dir: src } = newLite(tz);
    await ingestHistory(lite, { violations: 120, now: NOW, days: 30, seed: 9 });
    await lite.close();
    open.splice(open.indexOf(lite), 1);
    await run(process.execPath, [CLI, 'migrate', '--to', url, '--data', src]);
    // The copied violations came in around the roll-ups: the next start counts them again.
    expect(await store.rollups.state()).toMatchObject({ tz: null, ready: 0 });
    expect(await store.rollups.prepare(tz)).toBe('rebuild');
    expect((await store.rollups.rebuild(tz)).counted).toBe(120);
    expect(await pgDump(store)).toEqual(await pgRecount(store, tz));
  }, 120_000);
});
