/**
 * server.feed_p95_ms_pg: the feed benchmark of server.ts (the same HTTP queries, the same
 * 1,000,000 violations spread over a year, 2,000 agents, 20 sites, 10 apps) with the rows in
 * PostgreSQL: a throwaway cluster (test/support/postgres.ts), the rows made by one
 * INSERT ... SELECT over generate_series, ANALYZE, then one server process on
 * `--database postgres://...`. The note names the index each query shape's plan uses.
 */
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { openPgStore } from '../../server/store/pg/index.js';
import { pgSkipReason, startPostgres } from '../support/postgres.js';
import { freePort, startServerProcess } from '../support/server-process.js';
import { tempDir } from '../support/server.js';
import { median, percentile, round, type BenchResults } from './results.js';
import { timeFeed } from './server.js';

/** The index (or scan) the top of a plan names, for the note. */
function scanOf(plan: { Plan: Record<string, unknown> }): string {
  const walk = (n: Record<string, unknown>): string | null => {
    if (typeof n['Index Name'] === 'string') return n['Index Name'];
    if (n['Node Type'] === 'Seq Scan') return 'seq scan';
    for (const c of (n.Plans as Array<Record<string, unknown>> | undefined) ?? []) {
      const found = walk(c);
      if (found) return found;
    }
    return null;
  };
  return walk(plan.Plan) ?? String(plan.Plan['Node Type']);
}

export async function benchFeedPg(): Promise<BenchResults> {
  const skip = pgSkipReason();
  if (skip) return { 'server.feed_p95_ms_pg': { value: -1, unit: 'ms', note: skip } };
  const cluster = await startPostgres();
  try {
    const url = await cluster.newDatabase('bench');
    const store = await openPgStore({ url, dataDir: tempDir('cg-bench-pg-') });
    const token = (await store.apiTokens.create('lead', 'bench')).token;
    await store.close();
    const rows = 1_000_000;
    const apps = ['zoom', 'whatsapp', 'facetime', 'messenger', 'skype', 'telegram', 'signal', 'discord', 'viber', 'google-meet'];
    const sites = Array.from({ length: 20 }, (_, i) => `site-${i}`);
    const agents = Array.from({ length: 2000 }, () => randomUUID());
    const t0 = Date.now() - 365 * 86_400_000;
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    const plans: string[] = [];
    try {
      await c.query(
        `INSERT INTO violations (id, agent_id, hostname, site, "user", app, state, via, started_at, ended_at, evidence, updated_at)
         SELECT gen_random_uuid()::text, ($1::text[])[i % 2000 + 1], 'WS-' || (i % 2000), ($2::text[])[(i % 2000) % 20 + 1], 'user' || ((i % 2000) % 300),
                ($3::text[])[i % 10 + 1], CASE WHEN i % 4 = 0 THEN 'in-call' ELSE 'running' END, 'process', s, s + 600000, '["process"]', s
         FROM (SELECT i, $4::bigint + floor(i::numeric / $5 * 365 * 86400000)::bigint AS s FROM generate_series(0, $5 - 1) AS i) g`,
        [agents, sites, apps, t0, rows],
      );
      await c.query('ANALYZE violations');
      const day = 86_400_000;
      const shapes: Array<[string, string, unknown[]]> = [
        ['newest', 'TRUE', []],
        ['app', 'app = $1', ['zoom']],
        ['site+state', "site = $1 AND state = 'in-call'", ['site-3']],
        ['agent', 'agent_id = $1', [agents[7]]],
        ['app+day', 'app = $1 AND started_at >= $2 AND started_at < $3', ['zoom', t0 + 100 * day, t0 + 101 * day]],
        ['state+since', "state = 'in-call' AND started_at >= $1", [t0 + 100 * day]],
      ];
      for (const [name, where, args] of shapes) {
        const { rows: [r] } = await c.query(`EXPLAIN (FORMAT JSON) SELECT * FROM violations WHERE ${where} ORDER BY started_at DESC, seq DESC LIMIT 101`, args);
        plans.push(`${name}: ${scanOf((r as { 'QUERY PLAN': Array<{ Plan: Record<string, unknown> }> })['QUERY PLAN'][0]!)}`);
      }
    } finally {
      await c.end();
    }
    const port = await freePort();
    let server: ChildProcess | null = null;
    try {
      server = await startServerProcess(port, tempDir('cg-bench-pg-srv-'), ['--database', url]);
      const warm = await timeFeed(port, token, { t0, apps, sites, agents });
      return {
        'server.feed_p95_ms_pg': {
          value: round(percentile(warm, 95)), unit: 'ms',
          note: `as server.feed_p95_ms, with the ${rows.toLocaleString('en')} violations in PostgreSQL (one instance, pool of 10, throwaway cluster with fsync off on this machine); p95 over ${warm.length} HTTP feed queries, median ${round(median(warm))} ms; plans (EXPLAIN): ${plans.join(', ')}; target p95 < 20 ms`,
        },
      };
    } finally {
      if (server && server.exitCode === null) {
        const s = server;
        await new Promise((r) => {
          s.once('exit', r);
          s.kill('SIGTERM');
        });
      }
    }
  } finally {
    await cluster.destroy();
  }
}
