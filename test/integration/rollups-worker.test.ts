/**
 * Heavy reads off the event loop (issue 18): a large CSV export streams from a worker
 * thread with backpressure while an agent's batches are acked, and a store whose roll-ups
 * are not counted yet is counted by the server's start-up worker, trends reading the
 * violations meanwhile and the roll-ups after. Behaviour, not timing: real server on
 * loopback, real WebSocket agent protocol, real SQLite file.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createStore } from '../../server/store/index.js';
import { startTestServer, tempDir, TEST_SECRET, type TestServer } from '../support/server.js';
import { connectRaw, eventFrame, helloFrame, makeEvent } from '../support/ws-client.js';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** Violations with 16 evidence lines of 200 characters (~3.5 KB of CSV each), no roll-ups counted. */
async function seed(dataDir: string, n: number): Promise<void> {
  const store = createStore(dataDir);
  const evidence = JSON.stringify(Array.from({ length: 16 }, (_, i) => `evidence line ${i} `.padEnd(200, 'x')));
  const now = Date.now();
  const ins = store.db.prepare('INSERT INTO violations (id, agent_id, hostname, site, user, app, state, via, started_at, ended_at, evidence, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
  const agentId = randomUUID();
  store.db.transaction(() => {
    for (let i = 0; i < n; i++) ins.run(randomUUID(), agentId, `PC-${i % 50}`, 'north', 'CLINIC\\bulk', i % 3 ? 'zoom' : 'whatsapp', 'running', 'process', now - 60_000 - i * 1000, now - i * 1000, evidence, now);
  })();
  await store.close();
}

describe('off the event loop', () => {
  it('streams a large CSV from a worker while an agent\'s batches are acked, and it arrives whole', async () => {
    const dataDir = tempDir('cg-csv-worker-');
    await seed(dataDir, 8000);
    server = await startTestServer({ dataDir });
    const res = await fetch(`${server.url}/api/violations.csv`, { headers: { authorization: `Bearer ${server.apiToken}` } });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = decoder.decode((await reader.read()).value, { stream: true });
    // The export is under way and waits for us (we do not read); the agent is served meanwhile.
    const agent = await connectRaw(server.url.replace('http', 'ws') + '/agent');
    agent.send(helloFrame({ enrollSecret: TEST_SECRET }));
    expect((await agent.next('welcome')).type).toBe('welcome');
    for (let batch = 1; batch <= 10; batch++) {
      agent.send(eventFrame(batch, [makeEvent(), makeEvent()]));
      expect(await agent.next('ack')).toEqual({ type: 'ack', batch });
    }
    agent.close();
    expect(text.split('\r\n').length).toBeLessThan(8001); // not all of it yet: it waited for the reader
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    const lines = text.trim().split('\r\n');
    expect(lines[0]).toMatch(/^id,agentId,hostname,site,user,app,appName,/);
    // 8000 seeded violations and the 20 the agent's batches opened while the export ran (a later snapshot page may hold them).
    expect(lines.length - 1).toBeGreaterThanOrEqual(8000);
    expect(lines.length - 1).toBeLessThanOrEqual(8020);
    expect(new Set(lines.slice(1).map((l) => l.split(',')[0])).size).toBe(lines.length - 1); // no row twice
  }, 120_000);

  it('counts the roll-ups of a store that has none in a worker at start; trends read them once counted', async () => {
    const dataDir = tempDir('cg-rollup-start-');
    await seed(dataDir, 3000);
    server = await startTestServer({ dataDir });
    const since = new Date(Date.now() - 2 * 86_400_000).toISOString();
    const get = async () => (await (await fetch(`${server!.url}/api/trends?since=${since}`, { headers: { authorization: `Bearer ${server!.apiToken}` } })).json()) as { nudges: { violations: number }; topWorkstations: unknown[] };
    const before = await get();
    expect(before.nudges.violations).toBe(3000); // from the violations, or the roll-ups: the same answer
    const store = createStore(dataDir);
    try {
      await vi.waitFor(() => expect(store.rollups.state()).toMatchObject({ ready: 1, tz: 'UTC' }), { timeout: 60_000, interval: 200 });
      expect(store.db.prepare('SELECT sum(n) AS n FROM rollup_days').get()).toEqual({ n: 3000 });
    } finally {
      await store.close();
    }
    // The same answer from the roll-ups (the 50 workstations tie at 60: their order is not compared).
    const after = await get();
    const counts = (t: { topWorkstations: unknown[] }) => (t.topWorkstations as Array<{ count: number }>).map((w) => w.count);
    expect({ ...after, topWorkstations: counts(after) }).toEqual({ ...before, topWorkstations: counts(before) });
  }, 120_000);
});
