/** Dashboard logins: scrypt users, cookie flags, CSRF on state changes, lock-out, audit. */
import { afterEach, describe, expect, it } from 'vitest';
import { reportOneViolation } from '../support/enrol.js';
import { runCli } from '../support/processes.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { connectRaw, eventFrame, helloFrame, makeEvent } from '../support/ws-client.js';
import { TEST_SECRET } from '../support/server.js';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function login(s: TestServer, username: string, password: string) {
  const res = await fetch(`${s.url}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  return { res, body: (await res.json()) as any, cookie: (res.headers.get('set-cookie') ?? '').split(';')[0]! };
}

describe('dashboard sessions', () => {
  it('creates a user from the CLI, logs in with a strict HttpOnly cookie, and needs the CSRF token to change anything', async () => {
    server = await startTestServer();
    const add = await runCli('server', ['user', 'add', '--role', 'lead', 'dr.audit', '--data', server.dataDir], {}, 'correct horse battery\n');
    expect(add.code).toBe(0);
    const short = await runCli('server', ['user', 'add', '--role', 'lead', 'x', '--data', server.dataDir], {}, 'short\n');
    expect(short.code).toBe(2);
    expect(short.stderr).toMatch(/at least 12/);

    const { res, body, cookie } = await login(server, 'dr.audit', 'correct horse battery');
    expect(res.status).toBe(200);
    expect(body.user).toEqual({ name: 'dr.audit', role: 'lead' });
    expect(res.headers.get('set-cookie')).toMatch(/HttpOnly; SameSite=Strict/);
    const feed = await fetch(`${server.url}/api/violations`, { headers: { cookie } });
    expect(feed.status).toBe(200);

    const { hello, e } = await reportOneViolation(server);

    const path = `/api/violations/${hello.agentId}/${e.violationId}`;
    const ack = (headers: Record<string, string>) => fetch(`${server!.url}${path}/ack`, {
      method: 'POST', headers: { cookie, 'content-type': 'application/json', ...headers }, body: JSON.stringify({ status: 'resolved', note: 'spoke to clinician' }),
    });
    const forged = await ack({});
    expect(forged.status).toBe(403);
    expect(((await forged.json()) as any).error.code).toBe('csrf');
    const first = await fetch(`${server.url}${path}/ack`, {
      method: 'POST', headers: { cookie, 'content-type': 'application/json', 'x-csrf-token': body.csrfToken }, body: JSON.stringify({ status: 'acknowledged', note: 'looking into it' }),
    });
    expect(first.status).toBe(200);
    const ok = await ack({ 'x-csrf-token': body.csrfToken });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as any).violation.ack).toMatchObject({ status: 'resolved', by: 'dr.audit', note: 'spoke to clinician' });

    const detail = (await (await fetch(`${server.url}${path}`, { headers: { cookie } })).json()) as any;
    expect(detail.timeline.map((t: { kind: string }) => t.kind)).toEqual(['started', 'acknowledged', 'resolved']);
    expect(detail.timeline[1]).toMatchObject({ by: 'dr.audit', note: 'looking into it' });

    const out = await fetch(`${server.url}/api/session`, { method: 'DELETE', headers: { cookie, 'x-csrf-token': body.csrfToken } });
    expect(out.status).toBe(204);
    expect((await fetch(`${server.url}/api/violations`, { headers: { cookie } })).status).toBe(401);
  });

  it('refuses a wrong password, locks the name out after five failures, and audits it all', async () => {
    server = await startTestServer();
    await runCli('server', ['user', 'add', '--role', 'admin', 'it.admin', '--data', server.dataDir], {}, 'a long admin password\n');
    await runCli('server', ['user', 'add', '--role', 'lead', 'lead1', '--data', server.dataDir], {}, 'a long lead password\n');
    for (let i = 0; i < 5; i++) expect((await login(server, 'lead1', 'guess')).res.status).toBe(401);
    const locked = await login(server, 'lead1', 'a long lead password');
    expect(locked.res.status).toBe(429);
    expect(locked.body.error.code).toBe('rate_limited');
    const nobody = await login(server, 'nobody', 'whatever');
    expect(nobody.res.status).toBe(401);

    const lead = await login(server, 'it.admin', 'a long admin password');
    const audit = (await (await fetch(`${server.url}/api/audit`, { headers: { cookie: lead.cookie } })).json()) as any;
    const actions = audit.items.map((a: { actor: string; action: string }) => `${a.actor}:${a.action}`);
    expect(actions).toContain('lead1:login-locked');
    expect(actions.filter((a: string) => a === 'lead1:login-failed')).toHaveLength(5);
    expect(actions).toContain('it.admin:login');
    expect(JSON.stringify(audit)).not.toContain('a long lead password');
  });
});

describe('trends', () => {
  it('counts days in the clinic time zone, not UTC', async () => {
    const { mkdirSync, writeFileSync, readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { packageRoot } = await import('../../shared/paths.js');
    const { tempDir } = await import('../support/server.js');
    const dir = tempDir('cg-pol-');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'p.yaml'), readFileSync(join(packageRoot(), 'policies', 'demo', 'default.yaml'), 'utf8').replace('timezone: UTC', 'timezone: Australia/Adelaide'));
    server = await startTestServer({ policiesDir: dir });
    const c = await connectRaw(server.wsUrl);
    c.send(helloFrame({ enrollSecret: TEST_SECRET }));
    await c.next('welcome');
    // 13:20Z on 22 Nov is 23:50 in Adelaide (UTC+10:30); 13:40Z is 00:10 on 23 Nov there.
    c.send(eventFrame(1, [makeEvent({ at: '2026-11-22T13:20:00.000Z' }), makeEvent({ at: '2026-11-22T13:40:00.000Z', app: 'whatsapp' })]));
    await c.next('ack');
    c.close();
    const t = (await server.fetchJson('/api/trends?since=2026-11-20T00:00:00Z&until=2026-11-25T00:00:00Z')).body;
    expect(t.timezone).toBe('Australia/Adelaide');
    expect(t.days).toEqual([
      { day: '2026-11-22', byApp: { zoom: 1 }, inCallMinutes: 0 },
      { day: '2026-11-23', byApp: { whatsapp: 1 }, inCallMinutes: 0 },
    ]);
  });
});
