/**
 * Cluster presence at 20,000 agents (issue 15): what one instance's heartbeat costs the store
 * for "online across instances" (server/gateway/presence.ts), on SQLite and PostgreSQL in
 * one run. Two instances hold 10,000 agents each; a third asks.
 * - store.presence_refresh_ms_pg: median of one refresh (count of its own rows + the agents
 *   every other live instance holds, 20,000 ids), with `baseline` = the same on SQLite.
 * - the note gives the connect storm: 10,000 connects written in flushes of 500.
 */
import { randomUUID } from 'node:crypto';
import { openPostgresStore } from '../../server/store/pg/index.js';
import { createStore } from '../../server/store/index.js';
import type { Store } from '../../server/store/types.js';
import { pgSkipReason, startPostgres } from '../support/postgres.js';
import { tempDir } from '../support/server.js';
import { median, round, type BenchResults } from './results.js';

const PER = 10_000;
const FLUSH = 500;
const ROUNDS = 20;

async function measure(store: Store): Promise<{ refreshMs: number; writeMs: number }> {
  const beat = (id: string) => store.instances.record({ instanceId: id, host: 'bench', policyVersions: [], startedAt: Date.now() });
  for (const id of ['a', 'b', 'asker']) await beat(id);
  const writes: number[] = [];
  for (const id of ['a', 'b']) {
    const agents = Array.from({ length: PER }, () => randomUUID());
    const t = performance.now();
    for (let i = 0; i < agents.length; i += FLUSH) await store.presence.update(id, { held: agents.slice(i, i + FLUSH), released: [] });
    writes.push(performance.now() - t);
  }
  const times: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const t = performance.now();
    await store.presence.count('asker');
    const seen = await store.presence.elsewhere('asker', 60_000);
    times.push(performance.now() - t);
    if (seen.length !== 2 * PER) throw new Error(`presence bench: expected ${2 * PER} agents held elsewhere, read ${seen.length}`);
  }
  return { refreshMs: median(times), writeMs: median(writes) };
}

export async function benchPresence(): Promise<BenchResults> {
  const reason = pgSkipReason();
  if (reason) {
    process.stderr.write(`bench: store.presence_refresh_ms_pg SKIPPED: ${reason}\n`);
    return {};
  }
  const sqlite = createStore(tempDir('cg-bench-presence-'));
  const lite = await measure(sqlite);
  await sqlite.close();
  const cluster = await startPostgres();
  try {
    const pgStore = await openPostgresStore(await cluster.newDatabase('cg_bench'), { dataDir: tempDir('cg-bench-presence-pg-') });
    const pg = await measure(pgStore);
    await pgStore.close();
    return {
      'store.presence_refresh_ms_pg': {
        value: round(pg.refreshMs), unit: 'ms', baseline: round(lite.refreshMs), ratio: round(pg.refreshMs / lite.refreshMs),
        note: `median of ${ROUNDS} presence refreshes of one instance (its row count + the ${2 * PER} agents two other live instances hold) through the PostgreSQL store; baseline: the same through the SQLite store in this run; once per instance heartbeat (5 s). Writing ${PER} connects in flushes of ${FLUSH}: ${round(pg.writeMs)} ms on PostgreSQL, ${round(lite.writeMs)} ms on SQLite (median of two instances)`,
      },
    };
  } finally {
    await cluster.destroy();
  }
}
