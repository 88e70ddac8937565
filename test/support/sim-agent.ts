/**
 * Simulated agents for crash and failover tests: the agent's real outbox and transport in
 * this process, a UUID of their own, and a record of what they queued and which tokens they got.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { createOutbox, type Outbox } from '../../agent/outbox.js';
import { createTransport, type Transport } from '../../agent/transport.js';
import { silentLogger } from '../../shared/log.js';
import type { Event } from '../../shared/protocol.js';
import { tempDir, TEST_SECRET } from './server.js';

export interface SimAgent {
  agentId: string;
  outbox: Outbox;
  transport: Transport;
  /** Ids of every event queued, in order. */
  sent: string[];
  /** Every token the transport was given, or null when told to forget it, in order. */
  tokens: Array<string | null>;
}

export function simAgent(serverUrl: string, opts: { token?: string | null; agentId?: string; backoff?: { minMs: number; maxMs: number } } = {}): SimAgent {
  const outbox = createOutbox({ dir: join(tempDir('cg-sim-'), 'outbox'), maxEvents: 100_000, maxBytes: 256 * 1024 * 1024, fsync: false });
  let token = opts.token ?? null;
  const tokens: Array<string | null> = [];
  const agentId = opts.agentId ?? randomUUID();
  const transport = createTransport({
    serverUrl, insecure: false, agentId, token: () => token, setToken: (t) => { tokens.push(t); token = t; }, enrollSecret: TEST_SECRET,
    agentVersion: 'sim', outbox, log: silentLogger(), onPolicy: () => undefined, batchSize: 50, batchDelayMs: 5,
    backoff: opts.backoff ?? { minMs: 50, maxMs: 300 },
  });
  transport.start();
  return { agentId, outbox, transport, sent: [], tokens };
}

export function simEvent(): Event {
  return { id: randomUUID(), violationId: randomUUID(), kind: 'started', app: 'zoom', state: 'running', via: 'process', pids: [1], evidence: ['sim'], at: new Date().toISOString() };
}

/**
 * Every agent queues 20 events every ~20 ms for `ms`, and for at least 30 rounds however
 * slow the machine is (so the volume does not depend on a loaded CPU); once, a third of the
 * way in (and not before 10 rounds), `midway` runs (a server is killed, another started) while the stream waits for it.
 */
export async function streamEvents(agents: SimAgent[], ms: number, midway: () => Promise<void>): Promise<void> {
  const until = Date.now() + ms;
  let done = false;
  for (let round = 0; Date.now() < until || round < 30 || !done; round++) {
    for (const a of agents) {
      const batch = Array.from({ length: 20 }, simEvent);
      a.outbox.append(batch);
      a.sent.push(...batch.map((e) => e.id));
      a.transport.flush();
    }
    if (!done && Date.now() > until - (ms * 2) / 3 && round >= 10) {
      done = true;
      await midway();
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}
