/**
 * Ingest load on a store, without the network in between: `node store-load.js STORE AGENTS
 * SECONDS BATCH`, where STORE is `sqlite:DIR` or a postgres:// URL. Each simulated agent
 * ingests a batch, waits for the commit (what the server waits for before its ack), and
 * sends the next, for SECONDS. Prints `{ events, seconds, retries }` on stdout (retries: batches
 * the store refused, e.g. no pooled connection free within its 5 s, and that were sent again). One process is one
 * server instance's worth of store (PostgreSQL: its own pool of 10 connections).
 */
import { randomUUID } from 'node:crypto';
import { openPostgresStore } from '../../server/store/pg/index.js';
import { createStore } from '../../server/store/index.js';
import type { Event } from '../../shared/protocol.js';
import { tempDir } from '../support/server.js';

type Ingest = (agent: { agentId: string; hostname: string; site: string | null }, events: Event[]) => Promise<unknown>;

async function open(url: string): Promise<{ ingest: Ingest; close(): Promise<void> }> {
  if (url.startsWith('sqlite:')) {
    const store = createStore(url.slice('sqlite:'.length));
    return { ingest: async (agent, events) => store.violations.ingest(agent, events), close: async () => store.close() };
  }
  const store = await openPostgresStore(url, { dataDir: tempDir('cg-store-load-') });
  return { ingest: (agent, events) => store.violations.ingest(agent, events), close: () => store.close() };
}

const event = (): Event => ({
  id: randomUUID(), violationId: randomUUID(), kind: 'started', app: 'zoom', state: 'running', via: 'process',
  user: 'CLINIC\\dr.lee', pids: [4120], evidence: ['process Zoom.exe (path matches Zoom install)'], at: new Date().toISOString(),
});

const [url, agentsArg, secondsArg, batchArg] = process.argv.slice(2);
if (!url || !agentsArg || !secondsArg || !batchArg) {
  process.stderr.write('usage: store-load STORE AGENTS SECONDS BATCH\n');
  process.exit(2);
}
const store = await open(url);
const batch = Number(batchArg);
const until = performance.now() + Number(secondsArg) * 1000;
const start = performance.now();
let events = 0;
let retries = 0;
await Promise.all(Array.from({ length: Number(agentsArg) }, async (_, i) => {
  const agent = { agentId: randomUUID(), hostname: `LOAD-${i}`, site: null };
  while (performance.now() < until) {
    const events_ = Array.from({ length: batch }, event);
    // A batch that failed (e.g. no pooled connection free in time) is sent again, as an agent
    // resends a batch it got no ack for; the store keeps each event once.
    for (;;) {
      try {
        await store.ingest(agent, events_);
        break;
      } catch (err) {
        if ((err as { code?: string }).code !== 'store_unavailable' || performance.now() > until + 30_000) throw err;
        retries++;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    events += batch;
  }
}));
const seconds = (performance.now() - start) / 1000;
await store.close();
process.stdout.write(`${JSON.stringify({ events, seconds, retries })}\n`);
