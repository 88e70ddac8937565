/** The policy server's security and features against real sockets, files and processes. */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createOutbox } from '../../agent/outbox.js';
import { agentEndpoint, createTransport } from '../../agent/transport.js';
import { silentLogger } from '../../shared/log.js';
import { pruneOnce } from '../../server/store/retention.js';
import { syslogLine } from '../../server/forward/siem.js';
import { csvCell } from '../../server/api/csv.js';
import { runCli } from '../support/processes.js';
import { startTestServer, tempDir, TEST_SECRET, type TestServer } from '../support/server.js';
import { connectRaw, eventFrame, helloFrame, makeEvent } from '../support/ws-client.js';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function adminToken(s: TestServer): Promise<string> {
  const r = await runCli('server', ['token', 'create', '--role', 'admin', '--data', s.dataDir]);
  return r.stdout.trim();
}

async function post(s: TestServer, path: string, token: string, body: unknown = {}) {
  const res = await fetch(`${s.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() as any };
}

async function enrol(s: TestServer, over: Record<string, unknown> = {}) {
  const c = await connectRaw(s.wsUrl);
  const hello = helloFrame({ enrollSecret: TEST_SECRET, ...over });
  c.send(hello);
  const first = await c.next();
  return { c, hello, first };
}

describe('auth matrix', () => {
  // Contract change (issue 11, CONTRACTS section 3 "Enrolment"): a revoked id no longer
  // re-enrols with the secret; it takes `agent forget` first.
  it('refuses a token revoked from the CLI with 4401, and the agent re-enrols with the secret only after agent forget', async () => {
    server = await startTestServer();
    const { c, hello, first } = await enrol(server);
    c.close();
    const r = await runCli('server', ['agent', 'revoke', hello.agentId, '--data', server.dataDir]);
    expect(r.code).toBe(0);
    const again = await connectRaw(server.wsUrl);
    again.send(helloFrame({ agentId: hello.agentId, token: first.token }));
    expect(await again.next('error')).toMatchObject({ code: 'unauthorized' });
    expect((await again.closed).code).toBe(4401);
    const refused = await enrol(server, { agentId: hello.agentId });
    expect(refused.first).toMatchObject({ type: 'error', code: 'unauthorized', message: expect.stringMatching(/revoked.*agent forget/) });
    expect((await refused.c.closed).code).toBe(4401);
    expect((await runCli('server', ['agent', 'forget', hello.agentId, '--data', server.dataDir])).code).toBe(0);
    const back = await enrol(server, { agentId: hello.agentId });
    expect(back.first.type).toBe('welcome');
    expect(back.first.token).not.toBe(first.token);
    back.c.close();
  });

  it('disconnects a live agent whose token an admin revokes through the API', async () => {
    server = await startTestServer();
    const admin = await adminToken(server);
    const { c, hello } = await enrol(server);
    const r = await post(server, `/api/agents/${hello.agentId}/revoke`, admin);
    expect(r.status).toBe(200);
    expect(await c.next('error')).toMatchObject({ code: 'unauthorized' });
    expect((await c.closed).code).toBe(4401);
  });

  it('answers 403 when a lead uses an admin route', async () => {
    server = await startTestServer();
    const r = await post(server, '/api/enroll-secrets', server.apiToken, { site: 'north' });
    expect(r.status).toBe(403);
    expect(r.body.error).toMatchObject({ code: 'forbidden', message: expect.stringMatching(/admin/) });
  });

  it('enrols with a per-site secret into that site, and refuses it once revoked', async () => {
    server = await startTestServer();
    const admin = await adminToken(server);
    const created = await post(server, '/api/enroll-secrets', admin, { site: 'north' });
    expect(created.status).toBe(201);
    const { c, hello, first } = await enrol(server, { enrollSecret: created.body.secret, site: 'claims-south' });
    expect(first.type).toBe('welcome');
    c.close();
    const agents = (await server.fetchJson('/api/agents')).body.items;
    expect(agents.find((a: { agentId: string }) => a.agentId === hello.agentId).site).toBe('north');
    const del = await fetch(`${server.url}/api/enroll-secrets/${created.body.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${admin}` } });
    expect(del.status).toBe(200);
    const refused = await enrol(server, { enrollSecret: created.body.secret });
    expect(refused.first).toMatchObject({ type: 'error', code: 'unauthorized' });
    expect((await refused.c.closed).code).toBe(4401);
  });
});

describe('feed', () => {
  it('exports CSV with the current filter and neutralises formulas', async () => {
    // Names shown (--show-names): the user cell is what the agent reported, formula and all.
    server = await startTestServer({ showNames: true });
    const { c } = await enrol(server, { site: 'north' });
    c.send(eventFrame(1, [makeEvent({ user: '=HYPERLINK("http://x")', app: 'zoom' }), makeEvent({ app: 'whatsapp', evidence: ['a, "quoted" line'] })]));
    await c.next('ack');
    const res = await fetch(`${server.url}/api/violations.csv?app=zoom`, { headers: { authorization: `Bearer ${server.apiToken}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/csv/);
    const lines = (await res.text()).trim().split('\r\n');
    expect(lines[0]).toBe('id,agentId,hostname,site,user,app,appName,state,via,startedAt,endedAt,durationSec,nudged,nudgeClicked,evidence');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain(`"'=HYPERLINK(""http://x"")"`);
    expect(csvCell(['a, "quoted" line'])).toBe('"a, ""quoted"" line"');
    c.close();
  });

  it('pushes a new violation to live subscribers within a second of its ack', async () => {
    server = await startTestServer();
    const res = await fetch(`${server.url}/api/violations/stream`, { headers: { authorization: `Bearer ${server.apiToken}` } });
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = res.body!.getReader();
    const { c } = await enrol(server);
    const violationId = randomUUID();
    c.send(eventFrame(1, [makeEvent({ violationId })]));
    await c.next('ack');
    const acked = Date.now();
    let text = '';
    while (!text.includes(violationId)) text += new TextDecoder().decode((await reader.read()).value);
    expect(Date.now() - acked).toBeLessThan(1000);
    expect(text).toContain('event: violation');
    await reader.cancel();
    c.close();
  });
});

describe('operations', () => {
  it('exposes Prometheus metrics for ingest and rejected frames', async () => {
    server = await startTestServer();
    const { c } = await enrol(server);
    c.send(eventFrame(1, [makeEvent(), makeEvent()]));
    await c.next('ack');
    const bad = await connectRaw(server.wsUrl);
    bad.send('{nope');
    await bad.closed;
    const text = await (await fetch(`${server.url}/metrics`)).text();
    expect(text).toMatch(/consultguard_events_ingested_total\{outcome="stored"\} 2/);
    expect(text).toMatch(/consultguard_frames_rejected_total\{code="bad_json"\} 1/);
    expect(text).toMatch(/consultguard_agents_connected 1/);
    expect(text).toMatch(/consultguard_ingest_latency_seconds_count 1/);
    c.close();
  });

  it('flags an agent that goes silent during consult hours', async () => {
    server = await startTestServer();
    const { c, hello } = await enrol(server);
    c.send({ type: 'status', at: new Date().toISOString(), monitoring: true, policyVersion: null });
    await vi.waitFor(async () => expect((await server!.fetchJson('/api/agents')).body.items[0].monitoring).toBe(true));
    expect((await server.fetchJson('/api/agents')).body.items[0].silent).toBe(false);
    c.close();
    await vi.waitFor(async () => {
      const a = (await server!.fetchJson('/api/agents')).body.items.find((x: { agentId: string }) => x.agentId === hello.agentId);
      expect(a).toMatchObject({ online: false, silent: true });
    });
  });

  it('forwards events to a JSON-lines file and to syslog (RFC 5424 over UDP)', async () => {
    const udp = createSocket('udp4');
    const received: string[] = [];
    udp.on('message', (m) => received.push(m.toString()));
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
    const file = join(tempDir(), 'siem', 'events.jsonl');
    server = await startTestServer({ forwardFile: file, forwardSyslog: `udp://127.0.0.1:${udp.address().port}` } as never);
    const { c, hello } = await enrol(server);
    const e = makeEvent();
    c.send(eventFrame(1, [e]));
    await c.next('ack');
    await vi.waitFor(() => expect(received).toHaveLength(1));
    expect(received[0]).toMatch(/^<132>1 \S+Z \S+ consultguard \d+ violation \[consultguard@32473 kind="started" app="zoom" agent="[0-9a-f-]+"\] \{/);
    const line = JSON.parse(readFileSync(file, 'utf8').trim());
    expect(line).toMatchObject({ type: 'consultguard.violation', agentId: hello.agentId, id: e.id, kind: 'started', app: 'zoom' });
    expect(syslogLine({ agentId: 'a', hostname: 'h', site: null, event: { ...e, app: 'x"]' } as never }, '{}')).toContain('app="x\\"\\]"');
    udp.close();
    c.close();
  });

  it('deletes violations past retention and keeps recent and open ones', async () => {
    server = await startTestServer();
    const { c } = await enrol(server);
    const old = randomUUID();
    const day = 86_400_000;
    c.send(eventFrame(1, [
      makeEvent({ violationId: old, at: new Date(Date.now() - 40 * day).toISOString() }),
      makeEvent({ violationId: old, kind: 'ended', at: new Date(Date.now() - 39 * day).toISOString() }),
      makeEvent({ at: new Date(Date.now() - 50 * day).toISOString() }), // still open: kept
      makeEvent({ at: new Date().toISOString() }),
    ]));
    await c.next('ack');
    c.close();
    const db = new Database(join(server.dataDir, 'consultguard.db'));
    expect(await pruneOnce(db, 30)).toBe(1);
    expect((db.prepare('SELECT count(*) n FROM events WHERE violation_id = ?').get(old) as { n: number }).n).toBe(0);
    db.close();
    expect((await server.fetchJson('/api/violations')).body.items).toHaveLength(2);
  });

  it('writes an online backup that opens with every violation', async () => {
    server = await startTestServer();
    const { c } = await enrol(server);
    c.send(eventFrame(1, [makeEvent(), makeEvent()]));
    await c.next('ack');
    const file = join(tempDir(), 'backup.db');
    const r = await runCli('server', ['backup', file, '--data', server.dataDir]);
    expect(r.code).toBe(0);
    expect(existsSync(file)).toBe(true);
    const db = new Database(file, { readonly: true });
    expect((db.prepare('SELECT count(*) n FROM violations').get() as { n: number }).n).toBe(2);
    db.close();
    c.close();
  });

  it('restores from that backup: the copy placed as DATA/consultguard.db serves every violation again', async () => {
    server = await startTestServer();
    const { c } = await enrol(server);
    c.send(eventFrame(1, [makeEvent(), makeEvent(), makeEvent()]));
    await c.next('ack');
    c.close();
    const file = join(tempDir(), 'backup.db');
    expect((await runCli('server', ['backup', file, '--data', server.dataDir])).code).toBe(0);
    await server.close();
    // A new machine: an empty data folder, the copy put in place (README "Backup and restore").
    const restored = tempDir();
    copyFileSync(file, join(restored, 'consultguard.db'));
    server = await startTestServer({ dataDir: restored });
    const { body } = await server.fetchJson('/api/violations');
    expect(body.items).toHaveLength(3);
  });
});

describe('TLS', () => {
  it('serves wss with --tls-cert/--tls-key, and the agent connects trusting a custom CA', async () => {
    const dir = tempDir();
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
      '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
    server = await startTestServer({ tlsCert: join(dir, 'cert.pem'), tlsKey: join(dir, 'key.pem') });
    expect(server.url).toMatch(/^https:/);
    const outbox = createOutbox({ dir: join(dir, 'outbox'), maxEvents: 100, maxBytes: 1 << 20 });
    let welcomed = false;
    const transport = createTransport({
      serverUrl: server.url, insecure: false, caFile: join(dir, 'cert.pem'), agentId: randomUUID(), token: () => null, setToken: () => undefined,
      enrollSecret: TEST_SECRET, agentVersion: 't', outbox, log: silentLogger(), onPolicy: () => (welcomed = true),
    });
    transport.start();
    await vi.waitFor(() => expect(welcomed).toBe(true));
    await transport.stop(100);
  });

  it('refuses plain ws:// to a host other than loopback unless --insecure', () => {
    expect(() => agentEndpoint('ws://guard.clinic.example:8470', false)).toThrow(/plain ws:\/\/ to guard\.clinic\.example/);
    expect(agentEndpoint('ws://guard.clinic.example:8470', true)).toBe('ws://guard.clinic.example:8470/agent');
    expect(agentEndpoint('https://guard.clinic.example', false)).toBe('wss://guard.clinic.example/agent');
    expect(agentEndpoint('http://127.0.0.1:8470', false)).toBe('ws://127.0.0.1:8470/agent');
  });
});
