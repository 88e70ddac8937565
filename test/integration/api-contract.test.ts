/**
 * The server's JSON replies parse with the schemas in shared/api-types.ts (the one
 * contracts package the dashboard's types come from): a real server, a real agent
 * connection filling it with violations, nudges and a review, then every read route.
 * The schemas are strict about the fields they name (types, nullability, ISO times), so a
 * drift such as `topSites.site: null` or a missing `ack` fails here, not in a browser.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import {
  AckReply, AgentList, AuditList, ErrorReply, FilterValues, Health, SessionReply, Trends, ViolationDetail, ViolationPage,
} from '../../shared/api-types.js';
import { createStore } from '../../server/store/index.js';
import { startTestServer, tempDir, TEST_SECRET, type TestServer } from '../support/server.js';
import { connectRaw, eventFrame, helloFrame, makeEvent } from '../support/ws-client.js';

let server: TestServer;
let adminToken: string;
let agentId: string;
const violationId = randomUUID();
const PASSWORD = 'correct horse battery';

beforeAll(async () => {
  const dataDir = tempDir();
  const store = createStore(dataDir);
  adminToken = (await store.apiTokens.create('admin', 'contract-test')).token;
  await store.users.add('it.lead', 'lead', PASSWORD);
  await store.close();
  server = await startTestServer({ dataDir });

  const c = await connectRaw(server.wsUrl);
  const hello = helloFrame({ enrollSecret: TEST_SECRET });
  agentId = hello.agentId as string;
  c.send(hello);
  await c.next('welcome');
  const t0 = Date.now() - 20 * 60_000;
  const at = (min: number) => new Date(t0 + min * 60_000).toISOString();
  c.send(eventFrame(1, [
    makeEvent({ violationId, at: at(0) }),
    makeEvent({ violationId, kind: 'updated', state: 'in-call', via: 'process+network', at: at(1) }),
    makeEvent({ violationId, kind: 'ended', at: at(10) }),
    makeEvent({ app: 'whatsapp', user: undefined, at: at(5) }), // still open, no user
  ]));
  await c.next('ack');
  c.send({ type: 'nudges', batch: 2, nudges: [
    { id: randomUUID(), violationId, app: 'zoom', outcome: 'shown', at: at(0.5) },
    { id: randomUUID(), violationId, app: 'zoom', outcome: 'clicked', at: at(0.6), detail: 'opened the approved app' },
  ] });
  await c.next('ack');
  c.send({ type: 'status', at: new Date().toISOString(), monitoring: true, policyVersion: null, health: { polls: 3 } });
  c.close();
});
afterAll(async () => server.close());

async function get<S extends z.ZodType>(schema: S, path: string, token: string | null = server.apiToken): Promise<{ res: Response; body: z.infer<S> }> {
  const res = await fetch(`${server.url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const json: unknown = await res.json();
  const parsed = schema.safeParse(json);
  expect(parsed.success, `${path}: ${parsed.success ? '' : parsed.error.message}\n${JSON.stringify(json).slice(0, 500)}`).toBe(true);
  return { res, body: parsed.data as z.infer<S> };
}

describe('HTTP replies fit the shared schemas', () => {
  it('GET /api/violations', async () => {
    const { body } = await get(ViolationPage, '/api/violations?limit=1');
    expect(body.items).toHaveLength(1);
    expect(body.next).toEqual(expect.any(String));
    const all = await get(ViolationPage, '/api/violations');
    expect(all.body.items.map((v) => v.app).sort()).toEqual(['whatsapp', 'zoom']);
    expect(all.body.items.find((v) => v.app === 'whatsapp')).toMatchObject({ user: null, endedAt: null, ack: null });
    expect(all.body.items.find((v) => v.id === violationId)).toMatchObject({ state: 'in-call', nudged: true, nudgeClicked: true, durationSec: 600 });
  });

  it('GET a violation\'s detail, and POST its acknowledgement', async () => {
    // Followed to the violation's canonical address, wherever the API puts it.
    const { res, body } = await get(ViolationDetail, `/api/violations/${violationId}`);
    expect(body.timeline.map((t) => t.kind)).toEqual(['started', 'nudge-shown', 'nudge-clicked', 'updated', 'ended']);
    const ack = await fetch(`${res.url}/ack`, { method: 'POST', headers: { authorization: `Bearer ${server.apiToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ status: 'resolved', note: 'spoke to the clinician' }) });
    expect(ack.status).toBe(200);
    expect(AckReply.parse(await ack.json()).violation.ack).toMatchObject({ status: 'resolved', note: 'spoke to the clinician' });
    const after = await get(ViolationDetail, new URL(res.url).pathname);
    expect(after.body.timeline.at(-1)).toMatchObject({ kind: 'resolved', note: 'spoke to the clinician' });
  });

  it('GET /api/trends: a violation without a site counts under a named bucket, never null', async () => {
    const { body } = await get(Trends, '/api/trends');
    expect(body.topSites).toEqual([{ site: '(no site)', count: 2 }]);
    expect(body.nudges).toEqual({ violations: 2, shown: 1, clicked: 1 });
  });

  it('GET /api/filters', async () => {
    expect((await get(FilterValues, '/api/filters')).body).toMatchObject({ apps: ['whatsapp', 'zoom'], hostnames: ['TEST-PC'] });
  });

  it('GET /api/agents', async () => {
    const { body } = await get(AgentList, '/api/agents');
    expect(body.items).toHaveLength(1);
    expect(body.items[0]).toMatchObject({ agentId, site: null, revoked: false });
  });

  it('GET /api/audit (admin)', async () => {
    const { body } = await get(AuditList, '/api/audit', adminToken);
    expect(body.items.map((e) => e.action)).toEqual(expect.arrayContaining(['view-violation', 'resolve']));
  });

  it('POST and GET /api/session', async () => {
    const res = await fetch(`${server.url}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'it.lead', password: PASSWORD }) });
    const login = SessionReply.parse(await res.json());
    expect(login.user).toEqual({ name: 'it.lead', role: 'lead' });
    const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0]!;
    const again = await fetch(`${server.url}/api/session`, { headers: { cookie } });
    expect(SessionReply.parse(await again.json()).csrfToken).toBe(login.csrfToken);
  });

  it('GET /healthz, and an error reply', async () => {
    expect((await get(Health, '/healthz', null)).body).toMatchObject({ ok: true, status: 'ok' });
    const { res } = await get(ErrorReply, '/api/violations?state=dancing');
    expect(res.status).toBe(400);
  });
});
