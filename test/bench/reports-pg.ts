/**
 * server.trends_ms_pg (issue 18 on PostgreSQL; beside reports.ts's server.trends_ms for
 * SQLite): p95 of the year-long trends (with exception counts) and per-site report
 * figures read from the roll-ups, over 1,000,000 violations (BENCH_REPORT_VIOLATIONS)
 * ingested through the PostgreSQL store's real ingest transaction (roll-ups kept as at
 * ingest), on a throwaway cluster (test/support/postgres.ts). `baseline` = the same calls
 * asked in a zone the roll-ups are not counted in (UTC), which the engine answers from the
 * violations (the queries it ran before roll-ups), in the same run.
 */
import { randomUUID } from 'node:crypto';
import type { Event } from '../../shared/protocol.js';
import { openPostgresStore, type PgStore } from '../../server/store/pg/index.js';
import { summarise } from '../../server/reports/content.js';
import { pgSkipReason, startPostgres } from '../support/postgres.js';
import { tempDir } from '../support/server.js';
import { median, percentile, round, type BenchResults } from './results.js';

const DAY = 86_400_000;
const ROWS = Number(process.env.BENCH_REPORT_VIOLATIONS ?? 1_000_000);
const TZ = 'Australia/Adelaide';
const SITES = Array.from({ length: 20 }, (_, i) => `site-${i}`);
const APPS = ['zoom', 'whatsapp', 'facetime', 'messenger', 'skype', 'telegram', 'signal', 'discord', 'viber', 'google-meet'];

/** A year of violations, 100 a batch, four agents' batches in flight at once (as four gateways' connections would be). */
async function fill(store: PgStore, now: number): Promise<number> {
  const agents = Array.from({ length: 2000 }, (_, a) => ({ agentId: randomUUID(), hostname: `WS-${a}`, site: SITES[a % SITES.length]! }));
  const first = now - 365 * DAY;
  const batchOf = (b: number): Event[] => {
    const out: Event[] = [];
    for (let j = b * 100; j < Math.min(ROWS, (b + 1) * 100); j++) {
      const at = first + Math.floor((j / ROWS) * 365 * DAY);
      const v = { violationId: randomUUID(), app: APPS[j % APPS.length]!, via: 'process' as const, pids: [1], user: `CLINIC\\user${j % 300}` };
      out.push({ ...v, id: randomUUID(), kind: 'started', state: j % 4 === 0 ? 'in-call' : 'running', evidence: ['process'], at: new Date(at).toISOString() });
      if (j % 10 !== 0) out.push({ ...v, id: randomUUID(), kind: 'ended', state: 'running', evidence: [], at: new Date(at + 600_000).toISOString() });
    }
    return out;
  };
  const batches = Math.ceil(ROWS / 100);
  let next = 0;
  const t = performance.now();
  await Promise.all(Array.from({ length: 4 }, async () => {
    for (let b = next++; b < batches; b = next++) await store.violations.ingest(agents[b % agents.length]!, batchOf(b));
  }));
  return (performance.now() - t) / 1000;
}

/** Milliseconds of the trends-with-counts and report-figures calls, in `tz`, `n` rounds each. */
async function times(store: PgStore, now: number, tz: string, n: number): Promise<number[]> {
  const since = now - 365 * DAY;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    let t = performance.now();
    await Promise.all([store.violations.trends(since + i * 60_000, now, tz), store.exceptions.counts(since + i * 60_000, now)]);
    out.push(performance.now() - t);
    t = performance.now();
    summarise(await store.reports.figures(SITES[i % SITES.length]!, since + i * 3_600_000, now, now, tz), tz, (a) => a);
    out.push(performance.now() - t);
  }
  return out;
}

export async function benchPgTrends(): Promise<BenchResults> {
  const skip = pgSkipReason();
  if (skip) {
    process.stderr.write(`bench: server.trends_ms_pg SKIPPED: ${skip}\n`);
    return {};
  }
  const cluster = await startPostgres();
  try {
    const now = Date.now();
    const store = (await openPostgresStore(await cluster.newDatabase('trends'), { dataDir: tempDir('cg-bench-trends-pg-'), now: () => now })) as PgStore;
    try {
      await store.rollups.prepare(TZ);
      const ingestSec = await fill(store, now);
      await store.pg.query('ANALYZE');
      const rollup = (await times(store, now, TZ, 40)).slice(10);
      // The zone the roll-ups are not counted in: answered from the violations (the old queries).
      const raw = (await times(store, now, 'UTC', 4)).slice(2);
      const value = round(percentile(rollup, 95));
      const baseline = round(percentile(raw, 95));
      return {
        'server.trends_ms_pg': {
          value, unit: 'ms', baseline, ratio: round(value / baseline, 4),
          note: `p95 (median ${round(median(rollup))} ms) of year-long trends+exception counts and per-site report figures from PostgreSQL roll-ups over ${ROWS} violations (ingested through the store in ${round(ingestSec, 1)} s); baseline: the same calls answered from the violations, same run; target under 50 ms`,
        },
      };
    } finally {
      await store.close();
    }
  } finally {
    await cluster.destroy();
  }
}
