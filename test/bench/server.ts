/**
 * Server benchmarks (CONTRACTS section 5), with the server as its own process and the
 * load generator as another, on loopback:
 * - server.ingest_events_per_s: events stored and acked per second from 500 agents, beside
 *   raw better-sqlite3 inserts of the same rows (same schema, same batch size) in this run.
 * - server.conn_kb: server RSS per idle connected agent at 5,000 connections.
 * - server.feed_p95_ms: p95 of filtered feed queries (over HTTP) with 1,000,000 violations stored.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { openDb } from '../../server/store/db.js';
import { createApiTokenStore } from '../../server/store/tokens.js';
import { packageRoot } from '../../shared/paths.js';
import { runCli } from '../support/processes.js';
import { freePort, startServerProcess } from '../support/server-process.js';
import { tempDir } from '../support/server.js';
import { median, percentile, round, type BenchResults } from './results.js';
import { procCpuMs, rssKb } from './proc.js';

const LOADGEN = join(packageRoot(), 'build', 'test', 'bench', 'loadgen.js');

export function runLoadgen(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [LOADGEN, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`loadgen exited ${code}`))));
  });
}

/** The same rows the server writes per batch (event + violation), inserted directly. */
function rawInsertRate(batchSize: number, seconds: number): number {
  const db = openDb(join(tempDir('cg-raw-'), 'raw.db'));
  const ev = db.prepare('INSERT OR IGNORE INTO events (agent_id, id, violation_id, kind, at, body, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)');
  const vi = db.prepare(`INSERT INTO violations (id, agent_id, hostname, site, user, app, state, via, started_at, ended_at, evidence, updated_at)
    VALUES (?, ?, 'LOAD', NULL, 'CLINIC\\dr.lee', 'zoom', 'running', 'process', ?, NULL, '["process Zoom.exe (path matches Zoom install)"]', ?)`);
  const agent = randomUUID();
  const tx = db.transaction((rows: Array<{ id: string; v: string; body: string }>) => {
    const now = Date.now();
    for (const r of rows) {
      ev.run(agent, r.id, r.v, 'started', now, r.body, now);
      vi.run(r.v, agent, now, now);
    }
  });
  // Rows are made before the clock starts: only the inserts are timed.
  const batches = Array.from({ length: Math.ceil(200_000 / batchSize) }, () => Array.from({ length: batchSize }, () => {
    const id = randomUUID();
    const v = randomUUID();
    const body = JSON.stringify({ id, violationId: v, kind: 'started', app: 'zoom', state: 'running', via: 'process', user: 'CLINIC\\dr.lee', pids: [4120], evidence: ['process Zoom.exe (path matches Zoom install)'], at: new Date().toISOString() });
    return { id, v, body };
  }));
  let n = 0;
  const end = performance.now() + seconds * 1000;
  const start = performance.now();
  for (const rows of batches) {
    if (performance.now() > end) break;
    tx(rows);
    n += batchSize;
  }
  const rate = n / ((performance.now() - start) / 1000);
  db.close();
  return rate;
}

/** A server process for `fn`, on `data` (and `extra` options, e.g. `--database URL`), stopped after. */
export async function withServer<T>(fn: (port: number, server: ChildProcess, data: string) => Promise<T>, data = tempDir('cg-bench-srv-'), extra: string[] = []): Promise<T> {
  const port = await freePort();
  const server = await startServerProcess(port, data, extra);
  try {
    return await fn(port, server, data);
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
  }
}

export async function benchIngest(): Promise<BenchResults> {
  const batch = 20;
  const seconds = 10;
  let serverCpuPct = 0;
  const result = await withServer(async (port, server) => {
    const c0 = procCpuMs(server.pid!);
    const r = JSON.parse(await runLoadgen(['ingest', `ws://127.0.0.1:${port}/agent`, '500', String(seconds), String(batch)])) as { events: number; seconds: number };
    serverCpuPct = Math.round(((procCpuMs(server.pid!) - c0) / (r.seconds * 1000)) * 100);
    return r;
  });
  const rate = result.events / result.seconds;
  const raw = rawInsertRate(batch, 5);
  return {
    'server.ingest_events_per_s': {
      value: Math.round(rate), unit: 'events/s', baseline: Math.round(raw), ratio: round(rate / raw),
      note: `500 agents each sending batches of ${batch} and waiting for the ack, ${seconds} s (server used ${serverCpuPct}% of a core; 2-core machine shared with the generator), server and load generator in separate processes on loopback; baseline: the same event and violation rows inserted with better-sqlite3 in transactions of ${batch}; target ratio >= 0.5`,
    },
  };
}

export async function benchConnections(): Promise<BenchResults> {
  const n = 5000;
  return withServer(async (port, server) => {
    await new Promise((r) => setTimeout(r, 1000));
    const before = rssKb(server.pid!);
    const gen = spawn(process.execPath, [LOADGEN, 'idle', `ws://127.0.0.1:${port}/agent`, String(n)], { stdio: ['pipe', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => gen.stdout!.once('data', () => resolve()));
    await new Promise((r) => setTimeout(r, 3000)); // let allocations settle
    global.gc?.();
    const after = rssKb(server.pid!);
    gen.stdin!.end();
    await new Promise((r) => gen.once('exit', r));
    const per = (after - before) / n;
    return {
      'server.conn_kb': {
        value: round(per, 1), unit: 'KB',
        note: `server RSS ${Math.round(before / 1024)} MB idle -> ${Math.round(after / 1024)} MB with ${n} enrolled agents connected (welcome and policy sent, permessage-deflate off); target < 50 KB`,
      },
    };
  });
}

/** What the feed benchmarks store: 1,000,000 violations of 2,000 agents at 20 sites over a year. */
export const FEED_SHAPE = {
  apps: ['zoom', 'whatsapp', 'facetime', 'messenger', 'skype', 'telegram', 'signal', 'discord', 'viber', 'google-meet'],
  sites: Array.from({ length: 20 }, (_, i) => `site-${i}`),
  agents: Array.from({ length: 2000 }, () => randomUUID()),
};

/** The i-th of the dashboard's feed query shapes: newest 100; by app, site+state, agent, app+day window, state+since. */
export function feedQuery(i: number, shape: typeof FEED_SHAPE, t0: number): { filter: { app?: string; site?: string; state?: 'in-call'; agent?: string; since?: number; until?: number }; limit: number } {
  const { apps, sites, agents } = shape;
  const day = 86_400_000;
  const since = t0 + (i % 300) * day;
  return [
    { filter: {}, limit: 100 },
    { filter: { app: apps[i % apps.length]! }, limit: 100 },
    { filter: { site: sites[i % sites.length]!, state: 'in-call' as const }, limit: 100 },
    { filter: { agent: agents[i % agents.length]! }, limit: 50 },
    { filter: { app: 'zoom', since, until: since + day }, limit: 100 },
    { filter: { state: 'in-call' as const, since }, limit: 100 },
  ][i % 6]!;
}

/** The API's address of the i-th feed query (`feedQuery`). */
function feedUrl(server: string, i: number, shape: typeof FEED_SHAPE, t0: number): string {
  const { filter, limit } = feedQuery(i, shape, t0);
  const params = new URLSearchParams({ limit: String(limit) });
  for (const [k, v] of Object.entries(filter)) params.set(k, typeof v === 'number' ? new Date(v).toISOString() : v);
  return `${server}/api/violations?${params}`;
}

/** One feed view as the dashboard makes it (every tenth also follows its cursor: pagination must stay as fast); its ms. */
async function timeOneFeed(url: string, headers: Record<string, string>, followCursor: boolean): Promise<number> {
  const t = performance.now();
  const r = await fetch(url, { headers });
  const body = (await r.json()) as { next: string | null };
  if (!r.ok) throw new Error(`feed answered ${r.status}: ${JSON.stringify(body)}`);
  if (followCursor && body.next) await (await fetch(`${url}&cursor=${body.next}`, { headers })).json();
  return performance.now() - t;
}

/** 600 feed queries over HTTP (`feedQuery`; every tenth also fetches its next page); answers each one's ms. */
export async function timeFeed(server: string, token: string, shape: typeof FEED_SHAPE, t0: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < 600; i++) times.push(await timeOneFeed(feedUrl(server, i, shape, t0), { authorization: `Bearer ${token}` }, i % 10 === 0));
  return times;
}

/** A server to time side by side with others: its address, a credential's headers, and its process id. */
export interface FeedTarget { url: string; headers: Record<string, string>; pid: number }

/**
 * The same 600 feed queries against several servers, taking turns query by query (the order
 * flips each time), so that whatever else the machine runs weighs on each alike. Answers each
 * server's ms per query and its process's CPU ms per query after the first 60 (warm-up).
 */
export async function timeFeeds(targets: FeedTarget[], shape: typeof FEED_SHAPE, t0: number): Promise<Array<{ times: number[]; cpuMs: number }>> {
  const out = targets.map(() => ({ times: [] as number[], cpu0: 0 }));
  for (let i = 0; i < 600; i++) {
    const order = targets.map((_, k) => k);
    if (i % 2) order.reverse();
    for (const k of order) {
      const t = targets[k]!;
      if (i === 60) out[k]!.cpu0 = procCpuMs(t.pid);
      out[k]!.times.push(await timeOneFeed(feedUrl(t.url, i, shape, t0), t.headers, i % 10 === 0));
    }
  }
  return out.map((o, k) => ({ times: o.times.slice(60), cpuMs: (procCpuMs(targets[k]!.pid) - o.cpu0) / 540 }));
}

/** A dashboard login (POST /api/session): the cookie header a real lead's browser then sends. */
export async function loginCookie(server: string, username: string, password: string): Promise<Record<string, string>> {
  const r = await fetch(`${server}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  const cookie = r.headers.get('set-cookie')?.split(';')[0];
  if (!r.ok || !cookie) throw new Error(`login as ${username} answered ${r.status}`);
  return { cookie };
}

/** `GET /api/session` (the credential check alone, a small reply) `n` times per target in turns; each target's ms. */
export async function timeSessionChecks(targets: FeedTarget[], n = 300): Promise<number[][]> {
  const out = targets.map(() => [] as number[]);
  for (let i = 0; i < n; i++) {
    for (const [k, t] of targets.entries()) {
      const start = performance.now();
      const r = await fetch(`${t.url}/api/session`, { headers: t.headers });
      await r.json();
      if (!r.ok) throw new Error(`GET /api/session answered ${r.status}`);
      out[k]!.push(performance.now() - start);
    }
  }
  return out.map((x) => x.slice(30));
}

/**
 * `consultguard-server rollups rebuild` (the real CLI) over a store filled behind the
 * server's back, in the zone the benchmark's servers use (their --policies): a live store
 * keeps its roll-ups counted as it ingests, so a server over it starts with nothing to
 * count. Without this both servers would count 1,000,000 rows in the background while
 * their feeds are timed (measured: server CPU ~21 ms per view instead of a few).
 */
export async function countRollups(store: string[]): Promise<void> {
  const r = await runCli('server', ['rollups', 'rebuild', ...store, '--policies', join(packageRoot(), 'policies', 'demo')]);
  if (r.code !== 0) throw new Error(`rollups rebuild ${store.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
}

export async function benchFeed(): Promise<BenchResults> {
  const data = tempDir('cg-bench-feed-');
  const rows = 1_000_000;
  const db = openDb(join(data, 'consultguard.db'));
  const token = createApiTokenStore(db).create('lead', 'bench').token;
  const { apps, sites, agents } = FEED_SHAPE;
  const ins = db.prepare(`INSERT INTO violations (id, agent_id, hostname, site, user, app, state, via, started_at, ended_at, evidence, updated_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, 'process', ?, ?, '["process"]', ?)`);
  const t0 = Date.now() - 365 * 86_400_000;
  db.transaction(() => {
    for (let i = 0; i < rows; i++) {
      const start = t0 + Math.floor((i / rows) * 365 * 86_400_000);
      const a = i % agents.length;
      ins.run(randomUUID(), agents[a], `WS-${a}`, sites[a % sites.length], `user${a % 300}`, apps[i % apps.length], i % 4 === 0 ? 'in-call' : 'running', start, start + 600_000, start);
    }
  })();
  db.pragma('optimize');
  db.close();
  await countRollups(['--data', data]);
  return withServer(async (port) => {
    const times = await timeFeed(`http://127.0.0.1:${port}`, token, FEED_SHAPE, t0);
    const warm = times.slice(60);
    return {
      'server.feed_p95_ms': {
        value: round(percentile(warm, 95)), unit: 'ms',
        note: `p95 over ${warm.length} HTTP feed queries (newest 100; by app, site+state, agent, app+day window, state+since; every tenth also fetches its next page) with ${rows.toLocaleString('en')} violations stored (roll-ups counted first by \`rollups rebuild\`, as a live store keeps them); median ${round(median(warm))} ms; target p95 < 20 ms`,
      },
    };
  }, data);
}
