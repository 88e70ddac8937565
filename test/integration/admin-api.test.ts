/**
 * The admin routes behind the console's screens, on a real server with a real agent
 * connection and a real policies folder: moving an agent pins its site and pushes the new
 * policy to it at once (audited); the policies view names a broken edit's file and line and
 * which agents run which version; the audit log exports as CSV, filtered, admin only.
 */
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { packageRoot } from '../../shared/paths.js';
import { createStore } from '../../server/store/index.js';
import { startTestServer, tempDir, TEST_SECRET, type TestServer } from '../support/server.js';
import { connectRaw, eventFrame, helloFrame, makeEvent } from '../support/ws-client.js';

let server: TestServer;
let admin: string;
let policiesDir: string;

const SOUTH = `version: 1
name: south
default: false
assign:
  sites: [south]
timezone: Australia/Sydney
consultHours:
  - days: [mon, tue, wed, thu, fri]
    from: "08:00"
    to: "18:00"
closures: ["2026-12-25"]
monitor: all
approved:
  name: Coviu
  url: https://coviu.com/
`;

beforeAll(async () => {
  policiesDir = tempDir('cg-policies-');
  mkdirSync(policiesDir, { recursive: true });
  cpSync(join(packageRoot(), 'policies', 'demo', 'default.yaml'), join(policiesDir, 'default.yaml'));
  writeFileSync(join(policiesDir, 'south.yaml'), SOUTH);
  const dataDir = tempDir();
  const store = createStore(dataDir);
  admin = (await store.apiTokens.create('admin', 'admin-api-test')).token;
  await store.close();
  server = await startTestServer({ dataDir, policiesDir });
});
afterAll(async () => server.close());

const post = (path: string, body: unknown, token = admin) => fetch(`${server.url}${path}`, {
  method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
});

describe('admin API', () => {
  it('moves a connected agent to a site: new policy pushed at once, site pinned across reconnects, audited', async () => {
    const c = await connectRaw(server.wsUrl);
    const hello = helloFrame({ enrollSecret: TEST_SECRET, site: 'north' });
    c.send(hello);
    const welcome = await c.next('welcome');
    expect(welcome.policy.name).toBe('demo');

    const res = await post(`/api/agents/${hello.agentId}/assign`, { site: 'south', group: 'gp' });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ site: 'south', group: 'gp', policy: { name: 'south' } });
    const pushed = await c.next('policy');
    expect(pushed.policy).toMatchObject({ name: 'south', timezone: 'Australia/Sydney' });
    c.close();

    // Its own claim (site north) no longer moves it: the site is pinned.
    const again = await connectRaw(server.wsUrl);
    again.send({ ...hello, enrollSecret: undefined, token: welcome.token });
    expect((await again.next('welcome')).policy.name).toBe('south');
    again.close();
    const agents = (await server.fetchJson('/api/agents')).body.items;
    expect(agents[0]).toMatchObject({ site: 'south' });

    const audit = (await server.fetchJson('/api/audit', admin)).body.items;
    expect(audit.find((e: { action: string }) => e.action === 'agent-assign')).toMatchObject({
      actor: 'token:admin-api-test', detail: { agentId: hello.agentId, from: { site: 'north' }, to: { site: 'south', group: 'gp' }, policy: expect.stringMatching(/^south@/) },
    });
  });

  it('refuses a bad move with a message naming the field, and a lead', async () => {
    const bad = await post('/api/agents/x/assign', { site: 7 });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(/site/);
    const lead = await post('/api/agents/x/assign', { site: 'a' }, server.apiToken);
    expect(lead.status).toBe(403);
  });

  it('GET /api/policies: every policy with hours, closures, approved app; agents and versions; a broken edit by file and line', async () => {
    const view = (await server.fetchJson('/api/policies')).body;
    expect(view.error).toBeNull();
    expect(view.policies.find((p: { name: string }) => p.name === 'south')).toMatchObject({
      file: 'south.yaml', assign: { sites: ['south'], groups: [] }, closures: ['2026-12-25'], approved: { name: 'Coviu' },
      consultHours: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '08:00', to: '18:00' }],
    });
    expect(view.agents[0]).toMatchObject({ site: 'south', policy: { name: 'south' } });

    writeFileSync(join(policiesDir, 'south.yaml'), SOUTH.replace('from: "08:00"', 'from: "8 am"'));
    await vi.waitFor(async () => {
      const v = (await server.fetchJson('/api/policies')).body;
      expect(v.error).toMatchObject({ file: expect.stringMatching(/south\.yaml$/), line: 9 });
      expect(v.error.message).toMatch(/HH:MM/);
      // The last good policy stays in force meanwhile.
      expect(v.policies.find((p: { name: string }) => p.name === 'south').consultHours[0].from).toBe('08:00');
    }, { timeout: 10_000, interval: 100 });
    writeFileSync(join(policiesDir, 'south.yaml'), SOUTH);
    await vi.waitFor(async () => expect((await server.fetchJson('/api/policies')).body.error).toBeNull(), { timeout: 10_000, interval: 100 });
  });

  it('the violations CSV names each app by its display name beside its id', async () => {
    const c = await connectRaw(server.wsUrl);
    c.send(helloFrame({ enrollSecret: TEST_SECRET }));
    await c.next('welcome');
    c.send(eventFrame(1, [makeEvent({ app: 'whatsapp' }), makeEvent({ app: 'facetime' })]));
    await c.next('ack');
    c.close();
    const res = await fetch(`${server.url}/api/violations.csv`, { headers: { authorization: `Bearer ${server.apiToken}` } });
    const [head, ...rows] = (await res.text()).trim().split('\r\n').map((l) => l.split(','));
    const at = head!.indexOf('appName');
    expect(head!.slice(at - 1, at + 1)).toEqual(['app', 'appName']);
    expect(rows.map((r) => `${r[at - 1]}=${r[at]}`).sort()).toEqual(['facetime=FaceTime', 'whatsapp=WhatsApp']);
  });

  it('GET /api/apps: display names from the catalog', async () => {
    const apps = (await server.fetchJson('/api/apps')).body.items as Array<{ id: string; name: string }>;
    expect(Object.fromEntries(apps.map((a) => [a.id, a.name]))).toMatchObject({ zoom: 'Zoom', whatsapp: 'WhatsApp', facetime: 'FaceTime' });
  });

  it('GET /api/audit.csv: filtered by action, actor and date, admin only, the export audited', async () => {
    const res = await fetch(`${server.url}/api/audit.csv?action=agent-assign&actor=admin-api&since=2000-01-01`, { headers: { authorization: `Bearer ${admin}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/csv/);
    const lines = (await res.text()).trim().split('\r\n');
    expect(lines[0]).toBe('seq,at,actor,action,detail');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/token:admin-api-test,agent-assign,/);
    const none = await fetch(`${server.url}/api/audit.csv?until=2000-01-01`, { headers: { authorization: `Bearer ${admin}` } });
    expect((await none.text()).trim().split('\r\n')).toHaveLength(1);
    const bad = await fetch(`${server.url}/api/audit.csv?since=yesterday`, { headers: { authorization: `Bearer ${admin}` } });
    expect(bad.status).toBe(400);
    expect((await server.fetchJson('/api/audit.csv')).status).toBe(403);
    const audit = (await server.fetchJson('/api/audit', admin)).body.items;
    expect(audit[0]).toMatchObject({ action: 'audit-export' });
  });
});
