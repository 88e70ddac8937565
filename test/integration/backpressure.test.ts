/**
 * Slow clients and long jobs (issue 11): a CSV export waits for its client (bytes written
 * stay bounded when the client never reads), a live-feed client that falls behind is
 * dropped, and retention deletes in batches with the event loop served between them.
 * Real server on loopback, real sockets (a raw TCP client that never reads), real SQLite.
 */
import { randomUUID } from 'node:crypto';
import { ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createStore } from '../../server/store/index.js';
import { pruneOnce } from '../../server/store/retention.js';
import { startTestServer, tempDir, TEST_SECRET, type TestServer } from '../support/server.js';
import { connectRaw, eventFrame, helloFrame, makeEvent } from '../support/ws-client.js';

let server: TestServer | undefined;
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await server?.close();
  server = undefined;
});

/** Violations with 32 evidence lines of 200 characters: ~6.7 KB each as CSV or JSON. */
async function seed(dataDir: string, n: number, opts: { endedDaysAgo?: number; withEvents?: boolean } = {}): Promise<Array<{ agentId: string; id: string }>> {
  const store = createStore(dataDir);
  const agentId = randomUUID();
  const evidence = JSON.stringify(Array.from({ length: 32 }, (_, i) => `evidence line ${i} `.padEnd(200, 'x')));
  const now = Date.now();
  const ended = opts.endedDaysAgo === undefined ? null : now - opts.endedDaysAgo * 86_400_000;
  const ins = store.db.prepare('INSERT INTO violations (id, agent_id, hostname, site, user, app, state, via, started_at, ended_at, evidence, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
  const ev = store.db.prepare('INSERT INTO events (agent_id, id, violation_id, kind, at, body, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)');
  const rows: Array<{ agentId: string; id: string }> = [];
  store.db.transaction(() => {
    for (let i = 0; i < n; i++) {
      const id = randomUUID();
      const started = (ended ?? now) - 60_000 - i;
      ins.run(id, agentId, 'BULK-PC', 'north', 'CLINIC\\bulk', 'zoom', 'running', 'process', started, ended, evidence, now);
      if (opts.withEvents) ev.run(agentId, randomUUID(), id, 'started', started, '{}', now);
      rows.push({ agentId, id });
    }
  })();
  await store.close();
  return rows;
}

/** A raw HTTP client that sends one GET and then never reads its socket. */
async function neverReading(s: TestServer, path: string): Promise<Socket> {
  const sock = connect(s.port, '127.0.0.1');
  sockets.push(sock);
  await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject));
  sock.pause();
  sock.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${s.apiToken}\r\n\r\n`);
  return sock;
}

async function metric(s: TestServer, name: string): Promise<number> {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(await (await fetch(`${s.url}/metrics`)).text());
  if (!m) throw new Error(`no metric ${name} in /metrics`);
  return Number(m[1]);
}

describe('CSV export', () => {
  it('stops writing to a client that never reads (bytes written stay bounded), and completes for one that does', async () => {
    const dataDir = tempDir('cg-csv-');
    await seed(dataDir, 6000);
    server = await startTestServer({ dataDir });
    // Count what the server hands to CSV replies (the export's res.write calls).
    let written = 0;
    const write = ServerResponse.prototype.write;
    ServerResponse.prototype.write = function (this: ServerResponse, chunk: unknown, ...rest: unknown[]) {
      if (this.req?.url?.startsWith('/api/violations.csv')) written += Buffer.byteLength(chunk as string);
      return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
    } as typeof write;
    try {
      const sock = await neverReading(server, '/api/violations.csv');
      await vi.waitFor(() => expect(written).toBeGreaterThan(0));
      // Give the server many turns of its event loop to write more, if it would.
      for (let i = 0; i < 30; i++) expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      const stalled = written;
      sock.destroy();

      const full = await (await fetch(`${server.url}/api/violations.csv`, { headers: { authorization: `Bearer ${server.apiToken}` } })).text();
      expect(full.trim().split('\r\n')).toHaveLength(6001);
      const total = Buffer.byteLength(full);
      expect(total).toBeGreaterThan(38_000_000);
      // Socket buffers on loopback take a few MB at most; the old export wrote all ~40 MB at once.
      expect(stalled).toBeLessThan(total / 3);
    } finally {
      ServerResponse.prototype.write = write;
    }
  }, 60_000);
});

describe('live feed', () => {
  it('drops a client that falls behind, and keeps one that reads', async () => {
    const dataDir = tempDir('cg-sse-');
    const rows = await seed(dataDir, 50);
    server = await startTestServer({ dataDir });
    const stale = await neverReading(server, '/api/violations/stream');
    let staleEnded = false;
    stale.on('end', () => (staleEnded = true)).on('close', () => (staleEnded = true));
    const reader = await fetch(`${server.url}/api/violations/stream`, { headers: { authorization: `Bearer ${server.apiToken}` } });
    let readerBytes = 0;
    const reading = (async () => {
      for await (const chunk of reader.body!) readerBytes += (chunk as Uint8Array).length;
    })().catch(() => undefined);
    await vi.waitFor(async () => expect(await metric(server!, 'consultguard_live_streams')).toBe(2));

    // Every review is pushed to every stream (~7 KB each: the violation with its evidence).
    let pushed = 0;
    for (let i = 0; i < 3000 && (await metric(server, 'consultguard_live_streams_dropped')) === 0; i++) {
      const r = rows[i % rows.length]!;
      const res = await fetch(`${server.url}/api/violations/${r.agentId}/${r.id}/ack`, {
        method: 'POST', headers: { authorization: `Bearer ${server.apiToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ status: 'acknowledged', note: `n${i}` }),
      });
      expect(res.status).toBe(200);
      pushed += 7000;
    }
    expect(await metric(server, 'consultguard_live_streams_dropped')).toBe(1);
    expect(await metric(server, 'consultguard_live_streams')).toBe(1);
    // The stale client, once it reads, finds its stream ended by the server.
    let staleBytes = 0;
    stale.on('data', (d: Buffer) => (staleBytes += d.length));
    stale.resume();
    await vi.waitFor(() => expect(staleEnded).toBe(true));
    expect(staleBytes).toBeLessThan(pushed);
    await vi.waitFor(() => expect(readerBytes).toBeGreaterThan(pushed * 0.9));
    void reading;
  }, 60_000);
});

describe('retention', () => {
  it('deletes in batches and serves agents between them, and still deletes exactly what is past retention', async () => {
    const dataDir = tempDir('cg-ret-');
    await seed(dataDir, 3000, { endedDaysAgo: 40, withEvents: true });
    const kept = await seed(dataDir, 5, { endedDaysAgo: 2, withEvents: true });
    server = await startTestServer({ dataDir });
    const agent = await connectRaw(server.wsUrl);
    agent.send(helloFrame({ enrollSecret: TEST_SECRET }));
    await agent.next('welcome');

    const db = new Database(join(dataDir, 'consultguard.db'));
    try {
      let done = false;
      const run = pruneOnce(db, 30, Date.now(), 100).then((n) => {
        done = true;
        return n;
      });
      // An agent's batch is stored and acked while the delete is still going.
      agent.send(eventFrame(1, [makeEvent()]));
      await agent.next('ack');
      expect(done).toBe(false);
      expect(await run).toBe(3000);
      const count = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
      expect(count('SELECT count(*) n FROM violations')).toBe(kept.length + 1);
      expect(count('SELECT count(*) n FROM events')).toBe(kept.length + 1);
    } finally {
      db.close();
      agent.close();
    }
  }, 60_000);
});
