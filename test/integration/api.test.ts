/** The HTTP API (CONTRACTS section 4): credentials, roles, filters, pagination, errors. */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli } from '../support/processes.js';
import { startTestServer, TEST_SECRET, type TestServer } from '../support/server.js';
import { connectRaw, eventFrame, helloFrame, makeEvent } from '../support/ws-client.js';

let server: TestServer;
let agentId: string;

beforeAll(async () => {
  server = await startTestServer();
  const c = await connectRaw(server.wsUrl);
  const hello = helloFrame({ enrollSecret: TEST_SECRET, site: 'north' });
  agentId = hello.agentId;
  c.send(hello);
  await c.next('welcome');
  // 25 violations, one a minute, alternating apps; every fifth in a call.
  const events = Array.from({ length: 25 }, (_, i) => makeEvent({
    app: i % 2 ? 'whatsapp' : 'zoom', state: i % 5 === 0 ? 'in-call' : 'running',
    at: new Date(Date.UTC(2026, 10, 23, 9, i)).toISOString(),
  }));
  c.send(eventFrame(1, events));
  await c.next('ack');
  c.close();
});
afterAll(async () => server.close());

describe('credentials', () => {
  it('answers 401 with the error shape without a token, and with an unknown one', async () => {
    for (const token of [null, 'cg_not-a-real-token']) {
      const r = await server.fetchJson('/api/violations', token);
      expect(r.status).toBe(401);
      expect(r.body.error).toMatchObject({ code: 'unauthorized', message: expect.any(String) });
    }
  });

  it('serves /healthz without credentials', async () => {
    expect(await server.fetchJson('/healthz', null)).toMatchObject({ status: 200, body: { ok: true } });
  });

  it('issues working tokens from `token create`, one line on stdout', async () => {
    const r = await runCli('server', ['token', 'create', '--role', 'admin', '--name', 'siem', '--data', server.dataDir]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect((await server.fetchJson('/api/agents', lines[0])).status).toBe(200);
    const bad = await runCli('server', ['token', 'create', '--role', 'root', '--data', server.dataDir]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--role: expected lead or admin/);
  });
});

describe('GET /api/violations', () => {
  it('pages newest first with a cursor until next is null', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const r: { status: number; body: any } = await server.fetchJson(`/api/violations?limit=10${cursor ? `&cursor=${cursor}` : ''}`);
      expect(r.status).toBe(200);
      seen.push(...r.body.items.map((v: { startedAt: string }) => v.startedAt));
      cursor = r.body.next;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toHaveLength(25);
    expect([...seen].sort().reverse()).toEqual(seen);
  });

  it('filters by app, state, site, agent and time', async () => {
    const zoom = (await server.fetchJson('/api/violations?app=zoom&limit=100')).body.items;
    expect(zoom).toHaveLength(13);
    expect(zoom.every((v: { app: string }) => v.app === 'zoom')).toBe(true);
    expect((await server.fetchJson('/api/violations?state=in-call')).body.items).toHaveLength(5);
    expect((await server.fetchJson('/api/violations?site=north')).body.items).toHaveLength(25);
    expect((await server.fetchJson('/api/violations?site=south')).body.items).toHaveLength(0);
    expect((await server.fetchJson(`/api/violations?agent=${agentId}&limit=1`)).body.items[0].agentId).toBe(agentId);
    const window = await server.fetchJson('/api/violations?since=2026-11-23T09:10:00Z&until=2026-11-23T09:20:00Z');
    expect(window.body.items).toHaveLength(10);
  });

  it('answers a bad filter with 400 naming it', async () => {
    const r = await server.fetchJson('/api/violations?state=asleep');
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('bad_request');
    expect(r.body.error.message).toMatch(/state/);
    const c = await server.fetchJson(`/api/violations?cursor=${randomUUID()}`);
    expect(c.status).toBe(400);
    expect(c.body.error.message).toMatch(/cursor/);
  });
});

describe('GET /api/agents', () => {
  it('lists the agent with its host facts and online state', async () => {
    // The test client disconnected in beforeAll; the server notices the close.
    const body = await vi.waitFor(async () => {
      const r = await server.fetchJson('/api/agents');
      expect(r.body.items[0].online).toBe(false);
      return r.body;
    });
    expect(body.items).toHaveLength(1);
    expect(body.items[0]).toMatchObject({ agentId, hostname: 'TEST-PC', platform: 'win32', site: 'north', agentVersion: '0.1.0', online: false });
    expect(Date.parse(body.items[0].lastSeen)).toBeGreaterThan(0);
  });
});
