/**
 * Issue 11, agent identity and revocation: the exploits an outside review ran against a
 * live server, replayed with real sockets on loopback, a real SQLite file and the admin CLI
 * as a real child process. Each test fails on the code before the fix.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocketServer } from 'ws';
import { createOutbox } from '../../agent/outbox.js';
import { agentEndpoint, createTransport } from '../../agent/transport.js';
import { silentLogger } from '../../shared/log.js';
import { isLoopbackHost } from '../../shared/net.js';
import { packageRoot } from '../../shared/paths.js';
import { storedEvents } from '../support/agent.js';
import { enrolRaw } from '../support/enrol.js';
import { runCli, startAgentProcess } from '../support/processes.js';
import { startTestServer, tempDir, TEST_SECRET, type TestServer } from '../support/server.js';
import { connectRaw, eventFrame, helloFrame, makeEvent, type RawClient } from '../support/ws-client.js';

let server: TestServer | undefined;
const clients: RawClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await server?.close();
  server = undefined;
});

const enrol = (s: TestServer, over: Record<string, unknown> = {}) => enrolRaw(s, clients, over);

async function reconnect(s: TestServer, agentId: string, token: string, over: Record<string, unknown> = {}) {
  const c = await connectRaw(s.wsUrl);
  clients.push(c);
  c.send(helloFrame({ agentId, token, ...over }));
  return { c, first: await c.next() };
}

async function adminToken(s: TestServer): Promise<string> {
  return (await runCli('server', ['token', 'create', '--role', 'admin', '--data', s.dataDir])).stdout.trim();
}

async function post(s: TestServer, path: string, token: string, body: unknown = {}) {
  const res = await fetch(`${s.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() as any };
}

describe('takeover with the enrolment secret', () => {
  it('refuses a second client with the victim\'s id and the secret (4401); the victim stays connected and its data unforged', async () => {
    server = await startTestServer();
    const victim = await enrol(server);
    expect(victim.first.type).toBe('welcome');

    const thief = await enrol(server, { agentId: victim.hello.agentId, host: { hostname: 'ATTACKER', platform: 'linux', osVersion: 'x', agentVersion: 'x' } });
    expect(thief.first).toMatchObject({ type: 'error', code: 'unauthorized', message: expect.stringMatching(/already enrolled/) });
    const forged = makeEvent({ app: 'whatsapp' });
    thief.c.send(eventFrame(1, [forged])); // whatever it sends next is never stored
    expect((await thief.c.closed).code).toBe(4401);

    // The victim was not evicted, its token still works, and nothing forged is stored.
    const real = makeEvent();
    victim.c.send(eventFrame(1, [real]));
    expect(await victim.c.next('ack')).toEqual({ type: 'ack', batch: 1 });
    expect(storedEvents(server.dataDir, victim.hello.agentId).map((e) => e.id)).toEqual([real.id]);
    const again = await reconnect(server, victim.hello.agentId, victim.first.token);
    expect(again.first.type).toBe('welcome');
    const agents = (await server.fetchJson('/api/agents')).body.items;
    expect(agents.find((a: { agentId: string }) => a.agentId === victim.hello.agentId).hostname).toBe('TEST-PC');
  });

  it('does not fall back to a secret sent beside a wrong token (older agents send both)', async () => {
    server = await startTestServer();
    const victim = await enrol(server);
    const thief = await enrol(server, { agentId: victim.hello.agentId, token: 'cga_guessed' });
    expect(thief.first).toMatchObject({ type: 'error', code: 'unauthorized' });
    expect((await thief.c.closed).code).toBe(4401);
  });

  it('keeps a revoked id revoked; an admin forget through the API (audited) lets it enrol again', async () => {
    server = await startTestServer();
    const admin = await adminToken(server);
    const { c, hello } = await enrol(server);
    expect((await post(server, `/api/agents/${hello.agentId}/revoke`, admin)).status).toBe(200);
    expect((await c.closed).code).toBe(4401);

    const back = await enrol(server, { agentId: hello.agentId });
    expect(back.first).toMatchObject({ type: 'error', code: 'unauthorized', message: expect.stringMatching(/revoked/) });
    expect((await back.c.closed).code).toBe(4401);

    const forgot = await post(server, `/api/agents/${hello.agentId}/forget`, admin);
    expect(forgot).toMatchObject({ status: 200, body: { agentId: hello.agentId, forgotten: true } });
    expect((await post(server, `/api/agents/${randomUUID()}/forget`, admin)).status).toBe(404);
    const enrolled = await enrol(server, { agentId: hello.agentId });
    expect(enrolled.first.type).toBe('welcome');

    const audit = (await fetch(`${server.url}/api/audit`, { headers: { authorization: `Bearer ${admin}` } }).then((r) => r.json())) as any;
    expect(audit.items.find((a: { action: string }) => a.action === 'agent-forget')).toMatchObject({ detail: { agentId: hello.agentId, wasRevoked: true } });
  });

  it('audits a CLI forget with the OS user who ran it', async () => {
    server = await startTestServer();
    const { hello } = await enrol(server);
    const r = await runCli('server', ['agent', 'forget', hello.agentId, '--data', server.dataDir]);
    expect(r.code).toBe(0);
    const db = new Database(join(server.dataDir, 'consultguard.db'), { readonly: true });
    const row = db.prepare("SELECT actor, detail FROM audit WHERE action = 'agent-forget'").get() as { actor: string; detail: string };
    db.close();
    expect(row.actor).toMatch(/^cli/);
    expect(JSON.parse(row.detail)).toMatchObject({ agentId: hello.agentId, wasRevoked: false });
    expect((await runCli('server', ['agent', 'forget', randomUUID(), '--data', server.dataDir])).code).toBe(2);
  });

  it('closes an older connection of the same agent normally (1000 "replaced"), not with an undocumented code', async () => {
    server = await startTestServer();
    const first = await enrol(server);
    const second = await reconnect(server, first.hello.agentId, first.first.token);
    expect(second.first.type).toBe('welcome');
    expect(await first.c.closed).toEqual({ code: 1000, reason: 'replaced' });
  });
});

describe('revocation that sticks', () => {
  it('stores no frame that arrives after a CLI revoke, even before the socket is closed', async () => {
    // A slow sweep: only the per-frame check can refuse the frame here.
    server = await startTestServer({ revocationSweepMs: 60_000 });
    const { c, hello } = await enrol(server);
    c.send(eventFrame(1, [makeEvent()]));
    await c.next('ack');
    expect((await runCli('server', ['agent', 'revoke', hello.agentId, '--data', server.dataDir])).code).toBe(0);
    const late = makeEvent();
    c.send(eventFrame(2, [late]));
    expect(await c.next('error')).toMatchObject({ code: 'unauthorized', message: expect.stringMatching(/revoked/) });
    expect((await c.closed).code).toBe(4401);
    expect(c.messages.filter((m) => m.type === 'ack')).toHaveLength(1);
    expect(storedEvents(server.dataDir, hello.agentId).map((e) => e.id)).not.toContain(late.id);
  });

  it('closes the live socket within seconds of a revoke run by the CLI as another process', async () => {
    server = await startTestServer();
    const { c, hello } = await enrol(server);
    const r = await runCli('server', ['agent', 'revoke', hello.agentId, '--data', server.dataDir]);
    expect(r.code).toBe(0);
    // No frame is sent: the gateway's sweep notices the other process's commit by itself.
    const closed = await Promise.race([c.closed, new Promise<null>((ok) => setTimeout(() => ok(null), 5000))]);
    expect(closed).toMatchObject({ code: 4401 });
    expect(c.messages.at(-1)).toMatchObject({ type: 'error', code: 'unauthorized' });
  });
});

describe('site pinning', () => {
  it('keeps the site of a per-site secret whatever the agent claims on reconnect', async () => {
    server = await startTestServer();
    const admin = await adminToken(server);
    const secret = (await post(server, '/api/enroll-secrets', admin, { site: 'north' })).body.secret as string;
    const { c, hello, first } = await enrol(server, { enrollSecret: secret, site: 'south' });
    expect(first.type).toBe('welcome');
    c.close();
    const siteOf = async () => (await server!.fetchJson('/api/agents')).body.items.find((a: { agentId: string }) => a.agentId === hello.agentId).site;
    for (const claim of [{ site: 'south' }, {}]) {
      const again = await reconnect(server, hello.agentId, first.token, claim);
      expect(again.first.type).toBe('welcome');
      const e = makeEvent();
      again.c.send(eventFrame(1, [e]));
      await again.c.next('ack');
      again.c.close();
      expect(await siteOf()).toBe('north');
      const v = (await server.fetchJson(`/api/violations?agent=${hello.agentId}`)).body.items.find((x: { id: string }) => x.id === e.violationId);
      expect(v.site).toBe('north');
    }
  });

  it('gives a pinned agent its site\'s policy even when it claims a group whose policy is listed first', async () => {
    const dir = tempDir('cg-pol-');
    const demo = readFileSync(join(packageRoot(), 'policies', 'demo', 'default.yaml'), 'utf8');
    writeFileSync(join(dir, 'default.yaml'), demo);
    writeFileSync(join(dir, 'a-lenient.yaml'), demo.replace('name: demo', 'name: lenient').replace('default: true', 'default: false\nassign: { groups: [lenient] }').replace('mode: nudge', 'mode: monitor'));
    writeFileSync(join(dir, 'b-north.yaml'), demo.replace('name: demo', 'name: north').replace('default: true', 'default: false\nassign: { sites: [north] }'));
    server = await startTestServer({ policiesDir: dir });
    const admin = await adminToken(server);
    const secret = (await post(server, '/api/enroll-secrets', admin, { site: 'north' })).body.secret as string;
    const { c, hello, first } = await enrol(server, { enrollSecret: secret, group: 'lenient' });
    expect(first.policy.name).toBe('north');
    c.close();
    const again = await reconnect(server, hello.agentId, first.token, { site: 'elsewhere', group: 'lenient' });
    expect(again.first.policy.name).toBe('north');
    // Without a pinned site the group claim still picks its policy, as documented.
    const free = await enrol(server, { group: 'lenient' });
    expect(free.first.policy.name).toBe('lenient');
  });

  it('lets an agent enrolled with a site-less secret follow its own --site (not pinned, as documented)', async () => {
    server = await startTestServer();
    const { c, hello, first } = await enrol(server, { site: 'east' });
    c.close();
    const again = await reconnect(server, hello.agentId, first.token, { site: 'west' });
    expect(again.first.type).toBe('welcome');
    const agents = (await server.fetchJson('/api/agents')).body.items;
    expect(agents.find((a: { agentId: string }) => a.agentId === hello.agentId).site).toBe('west');
  });
});

describe('error frames', () => {
  it('sends the fixed "internal" text, never the exception, when the store fails', async () => {
    server = await startTestServer();
    const { c } = await enrol(server);
    // Another connection makes every event insert fail with a message that must stay inside.
    const db = new Database(join(server.dataDir, 'consultguard.db'));
    db.exec("CREATE TRIGGER boom BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'SECRET-DETAIL /srv/consultguard.db'); END;");
    db.close();
    c.send(eventFrame(1, [makeEvent()]));
    const err = await c.next('error');
    expect(err.code).toBe('internal');
    expect(err.message).not.toMatch(/SECRET-DETAIL|consultguard\.db|SQLITE/i);
    expect(err.message).toMatch(/retried/);
    expect((await c.closed).code).toBe(1011);
  });
});

describe('look-alike loopback', () => {
  it('parses the host as an address: 127.attacker.example is not loopback', () => {
    expect(() => agentEndpoint('ws://127.attacker.example:8470', false)).toThrow(/plain ws:\/\/ to 127\.attacker\.example/);
    expect(() => agentEndpoint('ws://127.0.0.1.attacker.example', false)).toThrow(/plain ws:\/\//);
    expect(() => agentEndpoint('ws://localhost.attacker.example', false)).toThrow(/plain ws:\/\//);
    for (const ok of ['ws://localhost:1', 'ws://127.0.0.1:1', 'ws://127.9.8.7:1', 'ws://127.1:1', 'ws://[::1]:1', 'ws://[::ffff:127.0.0.1]:1']) {
      expect(() => agentEndpoint(ok, false)).not.toThrow();
    }
    expect(isLoopbackHost('::1')).toBe(true);
    expect(isLoopbackHost('128.0.0.1')).toBe(false);
    expect(isLoopbackHost('::2')).toBe(false);
  });

  it('the agent CLI refuses ws://127.attacker.example with exit 2 and names the option', async () => {
    const dir = tempDir();
    const agent = startAgentProcess(['run', '--server', 'ws://127.attacker.example:8470', '--enroll-secret', TEST_SECRET, '--state', dir]);
    try {
      await vi.waitFor(() => expect(agent.child.exitCode).not.toBeNull(), { timeout: 10_000, interval: 50 });
      expect(agent.child.exitCode).toBe(2);
      expect(agent.output()).toMatch(/--server: plain ws:\/\/ to 127\.attacker\.example/);
    } finally {
      await agent.stop('SIGKILL'); // on the old code it would run on, sending over plain ws://
    }
  });
});

describe('the agent sends the secret only until it has a token', () => {
  it('sends a hello with its token and no secret', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    const hellos: any[] = [];
    wss.on('connection', (ws) => ws.once('message', (d) => hellos.push(JSON.parse(d.toString()))));
    await new Promise((ok) => wss.once('listening', ok));
    const port = (wss.address() as { port: number }).port;
    const dir = tempDir();
    let token: string | null = null;
    const transport = createTransport({
      serverUrl: `ws://127.0.0.1:${port}`, insecure: false, agentId: randomUUID(), token: () => token, setToken: () => undefined,
      enrollSecret: TEST_SECRET, agentVersion: 't', outbox: createOutbox({ dir: join(dir, 'outbox'), maxEvents: 100, maxBytes: 1 << 20 }),
      log: silentLogger(), onPolicy: () => undefined, backoff: { minMs: 50, maxMs: 100 },
    });
    transport.start();
    await vi.waitFor(() => expect(hellos).toHaveLength(1));
    expect(hellos[0]).toMatchObject({ enrollSecret: TEST_SECRET });
    expect(hellos[0].token).toBeUndefined();
    token = 'cga_own-token';
    for (const ws of wss.clients) ws.close(1000);
    await vi.waitFor(() => expect(hellos).toHaveLength(2));
    expect(hellos[1]).toMatchObject({ token: 'cga_own-token' });
    expect(hellos[1].enrollSecret).toBeUndefined();
    await transport.stop(50);
    await new Promise((ok) => wss.close(ok));
  });
});
