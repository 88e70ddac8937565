/**
 * Server killed with SIGKILL in the middle of a stream of batches from several agents
 * (the agent's real outbox and transport), then restarted: agents resend what was not
 * acked, and the store holds every event exactly once.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createOutbox, type Outbox } from '../../agent/outbox.js';
import { createTransport, type Transport } from '../../agent/transport.js';
import type { Event } from '../../shared/protocol.js';
import { silentLogger } from '../../shared/log.js';
import { storedEvents } from '../support/agent.js';
import { freePort, startServerProcess } from '../support/server-process.js';
import { tempDir, TEST_SECRET } from '../support/server.js';
import type { ChildProcess } from 'node:child_process';

interface SimAgent {
  agentId: string;
  outbox: Outbox;
  transport: Transport;
  sent: string[];
}

function simAgent(url: string): SimAgent {
  const dir = tempDir('cg-sim-');
  const outbox = createOutbox({ dir: join(dir, 'outbox'), maxEvents: 100_000, maxBytes: 256 * 1024 * 1024, fsync: false });
  let token: string | null = null;
  const agentId = randomUUID();
  const transport = createTransport({
    serverUrl: url, insecure: false, agentId, token: () => token, setToken: (t) => (token = t), enrollSecret: TEST_SECRET,
    agentVersion: 'sim', outbox, log: silentLogger(), onPolicy: () => undefined, batchSize: 50, batchDelayMs: 5,
    backoff: { minMs: 50, maxMs: 300 },
  });
  transport.start();
  return { agentId, outbox, transport, sent: [] };
}

function event(): Event {
  return { id: randomUUID(), violationId: randomUUID(), kind: 'started', app: 'zoom', state: 'running', via: 'process', pids: [1], evidence: ['sim'], at: new Date().toISOString() };
}

let server: ChildProcess | undefined;
afterEach(() => {
  server?.kill('SIGKILL');
});

describe('server crash', () => {
  it('stores every event exactly once across a SIGKILL of the server mid-stream', async () => {
    const port = await freePort();
    const data = tempDir();
    server = await startServerProcess(port, data);
    const agents = Array.from({ length: 5 }, () => simAgent(`ws://127.0.0.1:${port}`));

    // Stream events for ~3 s; kill the server once in the middle, restart it.
    const until = Date.now() + 3000;
    let killed = false;
    while (Date.now() < until) {
      for (const a of agents) {
        const batch = Array.from({ length: 20 }, event);
        a.outbox.append(batch);
        a.sent.push(...batch.map((e) => e.id));
        a.transport.flush();
      }
      if (!killed && Date.now() > until - 2000) {
        killed = true;
        server.kill('SIGKILL');
        await new Promise((r) => server!.once('exit', r));
        server = await startServerProcess(port, data);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    await vi.waitFor(() => {
      for (const a of agents) expect(a.outbox.stats().depth).toBe(0);
    }, { timeout: 20_000, interval: 100 });

    for (const a of agents) {
      const ids = storedEvents(data, a.agentId).map((e) => e.id);
      expect(ids.length).toBe(a.sent.length);
      expect(new Set(ids)).toEqual(new Set(a.sent));
    }
    expect(agents.reduce((n, a) => n + a.sent.length, 0)).toBeGreaterThan(1000);
    for (const a of agents) await a.transport.stop(100);
  });
});
