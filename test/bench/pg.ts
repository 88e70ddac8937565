/**
 * PostgreSQL benchmarks (issue 15; CONTRACTS section 5), each on a throwaway cluster of its
 * own (test/support/postgres.ts: initdb, pg_ctl, loopback, fsync off, so disk sync costs are
 * not in these figures for either engine: SQLite runs with synchronous=NORMAL in WAL).
 *
 * Through the server (the contract names), once the server accepts `--database postgres://`:
 * - server.ingest_events_per_s_pg: 500 agents into one instance; baseline the SQLite server.
 * - server.ingest_events_per_s_pg2: the same 500 split over two instances on one database;
 *   baseline the one-instance figure.
 * - server.conn_kb_pg2: RSS per idle agent, 20,000 agents over two instances (10,000 each).
 * - server.feed_p95_ms_pg: feed p95 over HTTP with 1,000,000 violations in PostgreSQL, read by a lead
 *   signed in with a real dashboard session; baseline: a SQLite server over the same rows, its
 *   requests taking turns with the PostgreSQL server's in the same run.
 * Through the store alone (the same engine code the server runs, no network in between), now:
 * - store.ingest_events_per_s / _pg / _pg2: 500 simulated agents ingesting batches of 20 and
 *   waiting for each commit, into SQLite, one PostgreSQL instance (one process, pool of 10),
 *   two instances (two processes of 250 agents on one database).
 * - store.feed_p95_ms / _pg: the feed's queries through the store over the same 1,000,000 rows.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { openPostgresStore } from '../../server/store/pg/index.js';
import { createStore } from '../../server/store/index.js';
import type { Store } from '../../server/store/types.js';
import { packageRoot } from '../../shared/paths.js';
import { engineSkipReason } from '../support/instances.js';
import { pgSkipReason, startPostgres, type PgCluster } from '../support/postgres.js';
import { freePort, startServerProcess } from '../support/server-process.js';
import { tempDir } from '../support/server.js';
import { rssKb } from './proc.js';
import { median, percentile, round, type BenchResults } from './results.js';
import { countRollups, FEED_SHAPE, feedQuery, loginCookie, runLoadgen, timeFeeds, timeSessionChecks, withServer } from './server.js';

const STORE_LOAD = join(packageRoot(), 'build', 'test', 'bench', 'store-load.js');
const AGENTS = 500;
const BATCH = 20;
const SECONDS = 10;
const ROWS = Number(process.env.CONSULTGUARD_BENCH_PG_ROWS ?? 1_000_000); // fewer only to try the bench out quickly

/** Why these cannot run here at all (no PostgreSQL binaries), printed as the bench's skip line. */
function skipped(names: string[]): BenchResults | null {
  const reason = pgSkipReason();
  if (!reason) return null;
  process.stderr.write(`bench: ${names.join(', ')} SKIPPED: ${reason}\n`);
  return {};
}

/** The server-level names wait for the server to speak PostgreSQL; says so once per group. */
function serverSkip(names: string[]): boolean {
  const reason = engineSkipReason('postgres');
  if (reason) process.stderr.write(`bench: ${names.join(', ')} SKIPPED: ${reason}\n`);
  return reason !== null;
}

async function withCluster<T>(fn: (cluster: PgCluster) => Promise<T>): Promise<T> {
  const cluster = await startPostgres();
  try {
    return await fn(cluster);
  } finally {
    await cluster.destroy();
  }
}

interface LoadRun { events: number; seconds: number; retries?: number }

function storeLoad(store: string, agents: number): Promise<LoadRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [STORE_LOAD, store, String(agents), String(SECONDS), String(BATCH)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`store-load exited ${code}`))));
  });
}

/** Several load processes at once; events/s of them all together. */
let retried = 0;
async function together(runs: Array<Promise<LoadRun>>): Promise<number> {
  const done = await Promise.all(runs);
  retried = done.reduce((n, r) => n + (r.retries ?? 0), 0);
  return done.reduce((n, r) => n + r.events, 0) / Math.max(...done.map((r) => r.seconds));
}

export async function benchPgIngest(): Promise<BenchResults> {
  const names = ['server.ingest_events_per_s_pg', 'server.ingest_events_per_s_pg2', 'store.ingest_events_per_s_pg', 'store.ingest_events_per_s_pg2'];
  const none = skipped(names);
  if (none) return none;
  return withCluster(async (cluster) => {
    const results: BenchResults = {};
    const sqlite = await together([storeLoad(`sqlite:${tempDir('cg-bench-store-')}`, AGENTS)]);
    const one = await together([storeLoad(await cluster.newDatabase('cg_bench'), AGENTS)]);
    const oneRetried = retried;
    const twoDb = await cluster.newDatabase('cg_bench');
    const two = await together([storeLoad(twoDb, AGENTS / 2), storeLoad(twoDb, AGENTS / 2)]);
    const twoRetried = retried;
    const how = `${AGENTS} simulated agents each ingesting batches of ${BATCH} through the store and waiting for the commit, ${SECONDS} s, no network (2-core machine; PostgreSQL on the same machine, fsync off)`;
    results['store.ingest_events_per_s'] = { value: Math.round(sqlite), unit: 'events/s', note: `${how}; SQLite, one process` };
    results['store.ingest_events_per_s_pg'] = { value: Math.round(one), unit: 'events/s', baseline: Math.round(sqlite), ratio: round(one / sqlite), note: `${how}; one PostgreSQL instance (one process, pool of 10; ${oneRetried} batches refused for want of a free pooled connection within 5 s and sent again); baseline: SQLite the same way in this run` };
    results['store.ingest_events_per_s_pg2'] = { value: Math.round(two), unit: 'events/s', baseline: Math.round(one), ratio: round(two / one), note: `${how}; two instances (two processes of ${AGENTS / 2} agents, pool of 10 each) on one database (${twoRetried} batches sent again); baseline: the one-instance figure of this run` };

    if (serverSkip(names.slice(0, 2))) return results;
    const url = await cluster.newDatabase('cg_bench');
    const ingest = (port: number, agents: number) => runLoadgen(['ingest', `ws://127.0.0.1:${port}/agent`, String(agents), String(SECONDS), String(BATCH)]).then((o) => JSON.parse(o) as { events: number; seconds: number });
    const sqliteServer = await withServer((port) => together([ingest(port, AGENTS)]));
    const pgServer = await withServer((port) => together([ingest(port, AGENTS)]), tempDir('cg-bench-srv-'), ['--database', url]);
    const url2 = await cluster.newDatabase('cg_bench');
    const pgServer2 = await withServer((p1) => withServer((p2) => together([ingest(p1, AGENTS / 2), ingest(p2, AGENTS / 2)]), tempDir('cg-bench-srv-'), ['--database', url2]), tempDir('cg-bench-srv-'), ['--database', url2]);
    const via = `${AGENTS} agents over WebSocket each sending batches of ${BATCH} and waiting for the ack, ${SECONDS} s, server(s) and load generator(s) in separate processes on loopback`;
    results['server.ingest_events_per_s_pg'] = { value: Math.round(pgServer), unit: 'events/s', baseline: Math.round(sqliteServer), ratio: round(pgServer / sqliteServer), note: `${via}; one instance on PostgreSQL; baseline: one instance on SQLite in this run` };
    results['server.ingest_events_per_s_pg2'] = { value: Math.round(pgServer2), unit: 'events/s', baseline: Math.round(pgServer), ratio: round(pgServer2 / pgServer), note: `${via}; two instances on one PostgreSQL database, ${AGENTS / 2} agents each; baseline: the one-instance PostgreSQL figure` };
    return results;
  });
}

export async function benchPgConnections(): Promise<BenchResults> {
  const names = ['server.conn_kb_pg2'];
  const none = skipped(names);
  if (none) return none;
  if (serverSkip(names)) return {};
  const per = 10_000;
  return withCluster(async (cluster) => {
    const url = await cluster.newDatabase('cg_bench');
    // 20,000 agents enrol with one secret: above its default limit of 10,000 (CONTRACTS).
    const extra = ['--database', url, '--enroll-limit', String(4 * per)];
    const start = async () => {
      const port = await freePort();
      return { port, child: await startServerProcess(port, tempDir('cg-bench-srv-'), extra) };
    };
    const servers = [await start(), await start()];
    try {
      await new Promise((r) => setTimeout(r, 1000));
      const before = servers.map((s) => rssKb(s.child.pid!));
      const gens = servers.map((s) => spawn(process.execPath, [join(packageRoot(), 'build', 'test', 'bench', 'loadgen.js'), 'idle', `ws://127.0.0.1:${s.port}/agent`, String(per)], { stdio: ['pipe', 'pipe', 'inherit'] }));
      await Promise.all(gens.map((g) => new Promise<void>((r) => g.stdout!.once('data', () => r()))));
      await new Promise((r) => setTimeout(r, 3000)); // let allocations settle
      const after = servers.map((s) => rssKb(s.child.pid!));
      for (const g of gens) g.stdin!.end();
      await Promise.all(gens.map((g) => new Promise((r) => g.once('exit', r))));
      const grew = after.reduce((n, a, i) => n + a - before[i]!, 0);
      return {
        'server.conn_kb_pg2': {
          value: round(grew / (2 * per), 1), unit: 'KB',
          note: `sum of both instances' RSS growth (${before.map((b, i) => `${Math.round(b / 1024)} -> ${Math.round(after[i]! / 1024)} MB`).join(', ')}) over ${2 * per} enrolled idle agents, ${per} per instance, on one PostgreSQL database (process fd limit ${per * 2} here); target < 50 KB`,
        },
      };
    } finally {
      for (const s of servers) {
        s.child.kill('SIGTERM');
        await new Promise((r) => s.child.once('exit', r));
      }
    }
  });
}

/**
 * The feed benchmark's 1,000,000 rows (server.ts FEED_SHAPE) made inside PostgreSQL by one
 * INSERT ... SELECT over generate_series (no round trip per row), with the table's secondary
 * indexes dropped first and built again after (a sort each, not a million inserts into each
 * of a dozen trees), then ANALYZE. The queries then run on the same indexes as ever.
 */
async function loadPgFeed(url: string, t0: number): Promise<void> {
  const pg = (await import('pg')).default;
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const { apps, sites, agents } = FEED_SHAPE;
    await c.query("SET maintenance_work_mem = '256MB'");
    const indexes = (await c.query<{ indexname: string; indexdef: string }>(
      "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = 'violations' AND i.indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = 'violations'::regclass)",
    )).rows;
    for (const i of indexes) await c.query(`DROP INDEX ${i.indexname}`);
    await c.query(
      `INSERT INTO violations (id, agent_id, hostname, site, "user", app, state, via, started_at, ended_at, evidence, updated_at)
       SELECT gen_random_uuid()::text, ($1::text[])[i % 2000 + 1], 'WS-' || (i % 2000), ($2::text[])[(i % 2000) % 20 + 1], 'user' || ((i % 2000) % 300),
              ($3::text[])[i % 10 + 1], CASE WHEN i % 4 = 0 THEN 'in-call' ELSE 'running' END, 'process',
              $4::bigint + (i::bigint * 365 * 86400000) / $5, $4::bigint + (i::bigint * 365 * 86400000) / $5 + 600000, '["process"]', $4::bigint + (i::bigint * 365 * 86400000) / $5
       FROM generate_series(0, $5 - 1) AS i`,
      [agents, sites, apps, t0, ROWS],
    );
    for (const i of indexes) await c.query(i.indexdef);
    // What autovacuum does to a table that filled over a year (visibility map, statistics);
    // left to autovacuum, it would run during the timed views.
    await c.query('VACUUM (ANALYZE) violations');
  } finally {
    await c.end();
  }
}

/** 600 feed queries through the store (the same shapes as over HTTP, every tenth with its next page); each one's ms. */
async function timeStoreFeed(store: Pick<Store, 'violations'>, t0: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < 600; i++) {
    const { filter, limit } = feedQuery(i, FEED_SHAPE, t0);
    const t = performance.now();
    const page = await store.violations.feed(filter, limit);
    if (i % 10 === 0 && page.next) await store.violations.feed(filter, limit, page.next);
    times.push(performance.now() - t);
  }
  return times.slice(60);
}

/** The dashboard user both servers' feeds are read as (a real login, a real session cookie). */
const LEAD = { name: 'bench.lead', password: 'bench-lead-password-1234' };

const p50 = (xs: number[]) => round(median(xs));
const p95 = (xs: number[]) => round(percentile(xs, 95));

export async function benchPgFeed(): Promise<BenchResults> {
  const names = ['server.feed_p95_ms_pg', 'store.feed_p95_ms_pg'];
  const none = skipped(names);
  if (none) return none;
  return withCluster(async (cluster) => {
    const t0 = Date.now() - 365 * 86_400_000;
    const url = await cluster.newDatabase('cg_bench');
    const pgStore = await openPostgresStore(url, { dataDir: tempDir('cg-bench-pgfeed-') });
    const loadStart = performance.now();
    await loadPgFeed(url, t0);
    const loadS = round((performance.now() - loadStart) / 1000, 1);
    const pgTimes = await timeStoreFeed(pgStore, t0);
    await pgStore.users.add(LEAD.name, 'lead', LEAD.password);
    await pgStore.close();

    // SQLite through its store, over the same rows (the synchronous store answers at once).
    const dir = tempDir('cg-bench-sqlfeed-');
    const sqlite = createStore(dir);
    const { apps, sites, agents } = FEED_SHAPE;
    const ins = sqlite.db.prepare(`INSERT INTO violations (id, agent_id, hostname, site, user, app, state, via, started_at, ended_at, evidence, updated_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, 'process', ?, ?, '["process"]', ?)`);
    sqlite.db.transaction(() => {
      for (let i = 0; i < ROWS; i++) {
        const start = t0 + Math.floor((i * 365 * 86_400_000) / ROWS);
        const a = i % agents.length;
        ins.run(randomUUID(), agents[a], `WS-${a}`, sites[a % sites.length], `user${a % 300}`, apps[i % apps.length], i % 4 === 0 ? 'in-call' : 'running', start, start + 600_000, start);
      }
    })();
    sqlite.db.pragma('optimize');
    const sqlTimes = await timeStoreFeed(sqlite, t0);
    await sqlite.users.add(LEAD.name, 'lead', LEAD.password);
    await sqlite.close();

    const results: BenchResults = {
      'store.feed_p95_ms_pg': {
        value: p95(pgTimes), unit: 'ms', baseline: p95(sqlTimes), ratio: round(p95(pgTimes) / p95(sqlTimes)),
        note: `p95 over ${pgTimes.length} feed pages through the PostgreSQL store (store.violations.feed, what GET /api/violations reads: newest 100; by app, site+state, agent, app+day window, state+since; every tenth also its next page) with ${ROWS.toLocaleString('en')} violations, bulk-loaded inside PostgreSQL with INSERT ... SELECT generate_series in ${loadS} s then VACUUM (ANALYZE); median ${p50(pgTimes)} ms; baseline: the same pages through the SQLite store over the same rows (median ${p50(sqlTimes)} ms); target < 20 ms`,
      },
    };
    if (serverSkip(names.slice(0, 1))) return results;
    const countStart = performance.now();
    await Promise.all([countRollups(['--database', url]), countRollups(['--data', dir])]);
    const countS = round((performance.now() - countStart) / 1000, 1);
    // Both servers at once, each on its own copy of the same rows, read by a lead signed in
    // to each; the requests take turns, so both meet the same machine.
    const http = await withServer((pgPort, pgServer) => withServer(async (litePort, liteServer) => {
      const targets = [];
      for (const [port, child] of [[pgPort, pgServer], [litePort, liteServer]] as const) {
        const base = `http://127.0.0.1:${port}`;
        targets.push({ url: base, headers: await loginCookie(base, LEAD.name, LEAD.password), pid: child.pid! });
      }
      const feeds = await timeFeeds(targets, FEED_SHAPE, t0);
      const checks = await timeSessionChecks(targets);
      return { pg: { ...feeds[0]!, check: checks[0]! }, lite: { ...feeds[1]!, check: checks[1]! } };
    }, dir), tempDir('cg-bench-srv-'), ['--database', url]);
    const { pg, lite } = http;
    const how = (e: typeof pg) => `median ${p50(e.times)} ms, server CPU ${round(e.cpuMs)} ms per view, GET /api/session alone p95 ${p95(e.check)} ms (median ${p50(e.check)})`;
    results['server.feed_p95_ms_pg'] = {
      value: p95(pg.times), unit: 'ms', baseline: p95(lite.times), ratio: round(p95(pg.times) / p95(lite.times)),
      note: `p95 over ${pg.times.length} feed views over HTTP (the shapes of store.feed_p95_ms_pg) by a lead signed in with a dashboard session (each first page audited), ${ROWS.toLocaleString('en')} violations in PostgreSQL: ${how(pg)}; baseline: a SQLite server over the same rows in the same run, requests taking turns with the PostgreSQL server's: ${how(lite)}; store alone in this run p95 ${p95(pgTimes)} ms (SQLite ${p95(sqlTimes)}); both stores' roll-ups counted first by \`rollups rebuild\` (${countS} s for both), as a live store keeps them; target p95 < 20 ms`,
    };
    return results;
  });
}
