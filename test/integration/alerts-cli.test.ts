/**
 * Rules from the command line while the server runs (real `build/server/cli.js` child
 * processes on the same data folder), and the rules that are not about one violation:
 * repeat use by one clinician, an agent silent during consult hours, a refused policy edit.
 */
import { createHmac } from 'node:crypto';
import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { packageRoot } from '../../shared/paths.js';
import { runCli } from '../support/processes.js';
import { startTestServer, tempDir, type TestServer } from '../support/server.js';
import { adminToken, agent, api, makeEvent, startReceiver } from './alerts-receivers.js';

const FAST = { tickMs: 50, retryBaseMs: 100, retryCapMs: 400, maxAttempts: 1000, concurrency: 4, timeoutMs: 2000, silentCheckMs: 50 };
const open: Array<{ close(): Promise<void> | void }> = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

async function server(extra: Record<string, unknown> = {}): Promise<TestServer> {
  const s = await startTestServer({ alerts: FAST, ...extra });
  open.push(s);
  return s;
}

describe('alert add from the CLI', () => {
  it('an outside client adds a rule while the server runs, and the next in-call violation brings the signed call', async () => {
    const receiver = await startReceiver();
    open.push(receiver);
    const s = await server();
    const a = await agent(s.wsUrl);
    open.push(a);
    const secret = 'cli-added-webhook-secret-0123456789';

    const add = await runCli('server', ['alert', 'add', '--on', 'in-call', '--webhook', `${receiver.url}/cli`, '--webhook-secret', secret, '--data', s.dataDir]);
    expect(add.stderr).toBe('');
    expect(add.code).toBe(0);
    const id = /^alert (\S+) added: on in-call -> webhook http:\/\/127\.0\.0\.1:\d+\/cli$/m.exec(add.stdout)?.[1];
    expect(id).toBeDefined();

    const call = makeEvent({ state: 'in-call' });
    await a.send([call]); // no restart, no wait: in force for the next batch
    await vi.waitFor(() => expect(receiver.calls.length).toBe(1), { timeout: 10_000 });
    const hook = receiver.calls[0]!;
    expect(hook.headers['x-consultguard-signature']).toBe(`sha256=${createHmac('sha256', secret).update(hook.raw).digest('hex')}`);
    expect(hook.json).toMatchObject({ violationId: call.violationId, app: 'zoom', state: 'in-call', workstation: 'TEST-PC' });

    const list = await runCli('server', ['alert', 'list', '--data', s.dataDir]);
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(`${id}  on=in-call`);
    expect(list.stdout).not.toContain(secret);

    const test = await runCli('server', ['alert', 'test', id!, '--data', s.dataDir]);
    expect(test.code).toBe(0);
    expect(test.stdout).toMatch(/webhook http:\/\/127\.0\.0\.1:\d+\/cli: ok/);
    expect(receiver.calls[1]!.json).toMatchObject({ type: 'test', rule: { id, on: 'in-call' } });

    // Email without a mail server: the test says what is missing (exit 1), not a stack trace.
    const mailRule = await runCli('server', ['alert', 'add', '--on', 'silent-agent', '--email', 'it@clinic.example', '--data', s.dataDir]);
    const mailId = /^alert (\S+) added/m.exec(mailRule.stdout)?.[1];
    const noSmtp = await runCli('server', ['alert', 'test', mailId!, '--data', s.dataDir]);
    expect(noSmtp.code).toBe(1);
    expect(noSmtp.stdout).toContain('email it@clinic.example: failed (NO_SMTP); give --smtp-url');

    const bad = await runCli('server', ['alert', 'add', '--on', 'in-call', '--webhook', 'ftp://x', '--data', s.dataDir]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--webhook: expected an http(s) URL');
    const none = await runCli('server', ['alert', 'add', '--on', 'in-call', '--data', s.dataDir]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('at least one channel');

    expect((await runCli('server', ['alert', 'remove', id!, '--data', s.dataDir])).code).toBe(0);
    const after = makeEvent({ state: 'in-call' });
    await a.send([after]);
    const marker = await startReceiver();
    open.push(marker);
    // A second rule to a second receiver: once it has its call, the removed rule had its chance.
    await runCli('server', ['alert', 'add', '--on', 'in-call', '--webhook', marker.url, '--data', s.dataDir]);
    const last = makeEvent({ state: 'in-call' });
    await a.send([last]);
    await vi.waitFor(() => expect(marker.calls.length).toBe(1), { timeout: 10_000 });
    expect(receiver.calls).toHaveLength(2);

    const actions = (await api(s.url, await adminToken(s.dataDir), 'GET', '/api/audit')).body.items.map((e: { action: string; actor: string }) => `${e.action} ${e.actor.split(':')[0]}`);
    expect(actions).toEqual(expect.arrayContaining(['alert-add cli', 'alert-test cli', 'alert-remove cli']));
  });
});

describe('rules beyond one violation', () => {
  it('repeat: N violations by one clinician in 7 days alert once, by pseudonym', async () => {
    const receiver = await startReceiver();
    open.push(receiver);
    const s = await server();
    const added = await api(s.url, await adminToken(s.dataDir), 'POST', '/api/alerts', { on: 'repeat', threshold: 2, webhook: [{ url: receiver.url }] });
    expect(added.status).toBe(201);
    const a = await agent(s.wsUrl);
    open.push(a);
    const user = 'CLINIC\\Dr.Repeat';
    await a.send([makeEvent({ user })]);
    await a.send([makeEvent({ user: 'CLINIC\\other.person' })]);
    const second = makeEvent({ user: 'clinic\\dr.repeat', app: 'facetime' }); // the same person, another case
    await a.send([second]);
    await vi.waitFor(() => expect(receiver.calls.length).toBe(1), { timeout: 10_000 });
    expect(receiver.calls[0]!.json).toMatchObject({ rule: { on: 'repeat' }, count: 2, windowDays: 7, violationId: second.violationId });
    expect(receiver.calls[0]!.json.clinician).toMatch(/^clinician-/);
    expect(receiver.calls[0]!.raw.toLowerCase()).not.toContain('repeat\\');
    expect(receiver.calls[0]!.raw.toLowerCase()).not.toContain('dr.repeat');
    // A third case in the same week does not alert again (the lead already knows).
    await a.send([makeEvent({ user })]);
    const marker = await startReceiver();
    open.push(marker);
    await api(s.url, await adminToken(s.dataDir), 'POST', '/api/alerts', { on: 'in-call', webhook: [{ url: marker.url }] });
    await a.send([makeEvent({ state: 'in-call', user: 'CLINIC\\nobody' })]);
    await vi.waitFor(() => expect(marker.calls.length).toBe(1), { timeout: 10_000 });
    expect(receiver.calls).toHaveLength(1);
  });

  it('silent-agent: an agent not heard from during consult hours alerts once for that silence', async () => {
    const receiver = await startReceiver();
    open.push(receiver);
    const s = await server(); // demo policy: consult hours all day, every day
    const a = await agent(s.wsUrl, { host: { hostname: 'QUIET-PC', platform: 'linux', osVersion: '6.1', agentVersion: '0.1.0' } });
    await api(s.url, await adminToken(s.dataDir), 'POST', '/api/alerts', { on: 'silent-agent', webhook: [{ url: receiver.url }] });
    a.close();
    await vi.waitFor(async () => expect((await s.fetchJson('/api/agents')).body.items[0].online).toBe(false));
    // Ten minutes of silence, written as another process would (the store is shared).
    const db = new Database(join(s.dataDir, 'consultguard.db'));
    db.prepare('UPDATE agents SET last_seen = ? WHERE agent_id = ?').run(Date.now() - 600_000, a.agentId);
    db.close();
    await vi.waitFor(() => expect(receiver.calls.length).toBe(1), { timeout: 10_000 });
    expect(receiver.calls[0]!.json).toMatchObject({ rule: { on: 'silent-agent' }, agentId: a.agentId, workstation: 'QUIET-PC' });
    // Many checks later, still one alert for the same silence.
    const h0 = (await s.fetchJson('/healthz', null)).body.components.alerts;
    expect(h0).toMatchObject({ queued: 0, delivered: 1 });
    const marker = await startReceiver();
    open.push(marker);
    await api(s.url, await adminToken(s.dataDir), 'POST', '/api/alerts', { on: 'in-call', webhook: [{ url: marker.url }] });
    const b = await agent(s.wsUrl);
    open.push(b);
    await b.send([makeEvent({ state: 'in-call' })]);
    await vi.waitFor(() => expect(marker.calls.length).toBe(1), { timeout: 10_000 });
    expect(receiver.calls).toHaveLength(1);
  });

  it('policy-error: a refused policy edit alerts with the file and line', async () => {
    const receiver = await startReceiver();
    open.push(receiver);
    const policiesDir = tempDir('cg-alert-policies-');
    cpSync(join(packageRoot(), 'policies', 'demo'), policiesDir, { recursive: true });
    const s = await server({ policiesDir });
    await api(s.url, await adminToken(s.dataDir), 'POST', '/api/alerts', { on: 'policy-error', webhook: [{ url: receiver.url }] });
    writeFileSync(join(policiesDir, 'broken.yaml'), 'name: broken\ntimezone: Not/AZone\n');
    await vi.waitFor(() => expect(receiver.calls.length).toBe(1), { timeout: 15_000 });
    expect(receiver.calls[0]!.json).toMatchObject({ rule: { on: 'policy-error' } });
    expect(receiver.calls[0]!.json.policyError).toContain('broken.yaml');
  });
});
