/**
 * Server killed with SIGKILL in the middle of a stream of batches from several agents
 * (the agent's real outbox and transport), then restarted: agents resend what was not
 * acked, and the store holds every event exactly once.
 */
import type { ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { storedEvents } from '../support/agent.js';
import { freePort, startServerProcess } from '../support/server-process.js';
import { tempDir } from '../support/server.js';
import { simAgent, streamEvents } from '../support/sim-agent.js';

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
    await streamEvents(agents, 3000, async () => {
      server!.kill('SIGKILL');
      await new Promise((r) => server!.once('exit', r));
      server = await startServerProcess(port, data);
    });
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
