/**
 * Alerts end to end: a real server on loopback, a real SQLite file, a real agent socket, a
 * real HTTP receiver and a real SMTP server (smtp-server). What it cannot show: delivery to
 * the real Teams or Slack services (no internet here); their payload shapes are checked as
 * documented by a receiver of ours.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { REDACT_PATHS } from '../../shared/log.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startTestServer, tempDir, type TestServer } from '../support/server.js';
import { adminToken, agent, api, decodeMail, freePort, makeEvent, startReceiver, startSmtp, type HttpReceiver, type SmtpReceiver } from './alerts-receivers.js';

const SECRET = 'webhook-secret-for-the-test-0123';
const REAL_NAME = 'dr.lee';
const FAST = { tickMs: 50, retryBaseMs: 100, retryCapMs: 400, maxAttempts: 1000, concurrency: 4, timeoutMs: 2000, silentCheckMs: 50 };

const open: Array<{ close(): Promise<void> | void }> = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

/** Every log line the servers write, as the production logger writes them (same redaction). */
const logLines: string[] = [];
const log = pino({ level: 'debug', redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, new Writable({ write(chunk: Buffer, _enc, done) { logLines.push(chunk.toString()); done(); } }));

async function serverWith(opts: { dataDir?: string; smtpUrl?: string; keepData?: boolean } = {}): Promise<{ server: TestServer; admin: string }> {
  const dataDir = opts.dataDir ?? tempDir('cg-alerts-');
  const admin = await adminToken(dataDir);
  const server = await startTestServer({ dataDir, alerts: FAST, log, ...(opts.smtpUrl ? { smtpUrl: opts.smtpUrl, mailFrom: 'guard@clinic.example' } : {}), keepData: opts.keepData });
  if (!opts.keepData) open.push(server);
  return { server, admin };
}

function verifySignature(call: HttpReceiver['calls'][number], secret: string): boolean {
  const header = String(call.headers['x-consultguard-signature'] ?? '');
  const expected = `sha256=${createHmac('sha256', secret).update(call.raw, 'utf8').digest('hex')}`;
  return header.length === expected.length && timingSafeEqual(Buffer.from(header), Buffer.from(expected));
}

describe('in-call alerts', () => {
  it('an in-call violation produces exactly one signed webhook call and one mail; a running one produces none; names never leave', async () => {
    const receiver = await startReceiver();
    const smtp: SmtpReceiver = await startSmtp();
    open.push(receiver, smtp);
    const { server, admin } = await serverWith({ smtpUrl: smtp.url });

    const added = await api(server.url, admin, 'POST', '/api/alerts', { on: 'in-call', webhook: [{ url: `${receiver.url}/hook?k=1`, secret: SECRET }], email: ['lead@clinic.example'] });
    expect(added.status).toBe(201);
    const listed = await api(server.url, server.apiToken, 'GET', '/api/alerts'); // a lead may read
    expect(listed.status).toBe(200);
    expect(JSON.stringify(listed.body)).not.toContain(SECRET);
    expect(listed.body.items[0].channels[0]).toMatchObject({ kind: 'webhook', target: `${receiver.url}/hook`, signed: true });
    expect((await api(server.url, server.apiToken, 'POST', '/api/alerts', { on: 'in-call', email: ['x@y.example'] })).status).toBe(403);

    const a = await agent(server.wsUrl, { site: 'north' });
    open.push(a);
    const running = makeEvent({ state: 'running', user: `CLINIC\\${REAL_NAME}` });
    const call = makeEvent({ app: 'whatsapp', state: 'in-call', via: 'process+network', user: `CLINIC\\${REAL_NAME}`, evidence: [`process C:\\Users\\${REAL_NAME}\\AppData\\WhatsApp.exe`] });
    await a.send([running]);
    await a.send([call]);
    // The same violation again (updated, then ended): still one alert.
    await a.send([makeEvent({ ...call, id: undefined, kind: 'updated' }), makeEvent({ ...call, id: undefined, kind: 'ended' })].map((e) => ({ ...e, id: crypto.randomUUID() })));

    await vi.waitFor(() => expect(receiver.calls.length).toBeGreaterThanOrEqual(1), { timeout: 10_000 });
    await vi.waitFor(() => expect(smtp.mails.length).toBeGreaterThanOrEqual(1), { timeout: 10_000 });
    // A later marker violation proves the loop has passed the duplicates and the running one.
    const marker = makeEvent({ state: 'in-call', user: 'CLINIC\\someone.else' });
    await a.send([marker]);
    await vi.waitFor(() => expect(receiver.calls.some((c) => c.json?.violationId === marker.violationId)).toBe(true), { timeout: 10_000 });

    const forCall = receiver.calls.filter((c) => c.json?.violationId === call.violationId);
    expect(forCall).toHaveLength(1);
    expect(receiver.calls.some((c) => c.json?.violationId === running.violationId)).toBe(false);
    const hook = forCall[0]!;
    expect(hook.path).toBe('/hook?k=1');
    expect(verifySignature(hook, SECRET)).toBe(true);
    expect(verifySignature({ ...hook, raw: `${hook.raw} ` }, SECRET)).toBe(false);
    expect(hook.json).toMatchObject({ v: 1, type: 'alert', violationId: call.violationId, app: 'whatsapp', state: 'in-call', workstation: 'TEST-PC', site: 'north', rule: { on: 'in-call' } });
    expect(hook.json.clinician).toMatch(/^clinician-[0-9a-f]{8}$/);
    expect(hook.headers['x-consultguard-alert']).toBe(hook.json.alertId);

    await vi.waitFor(() => expect(smtp.mails.length).toBe(2), { timeout: 10_000 }); // the call and the marker
    const mail = smtp.mails.find((m) => decodeMail(m.raw).text.includes(call.violationId))!;
    expect(mail.to).toEqual(['lead@clinic.example']);
    expect(decodeMail(mail.raw).subject).toContain('WhatsApp call on TEST-PC');
    expect(decodeMail(mail.raw).text).toContain(hook.json.clinician);
    for (const body of [...receiver.calls.map((c) => c.raw), ...smtp.mails.map((m) => decodeMail(m.raw).text + decodeMail(m.raw).subject)]) {
      expect(body.toLowerCase()).not.toContain(REAL_NAME);
      expect(body.toLowerCase()).not.toContain('someone.else');
    }

    const health = await server.fetchJson('/healthz', null);
    expect(health.body.components.alerts).toMatchObject({ state: 'ok', rules: 1, queued: 0, delivered: 4, failed: 0 });
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/consultguard_alerts_delivered_total\{channel="webhook"\} 2/);
    expect(metrics).toMatch(/consultguard_alerts_queued 0/);
    const audit = await api(server.url, admin, 'GET', '/api/audit');
    expect(audit.body.items.map((e: { action: string }) => e.action)).toContain('alert-add');
    expect(JSON.stringify(audit.body)).not.toContain(SECRET);
  });

  it('a receiver that is down gets the alert after it comes back, across a server restart', async () => {
    const port = await freePort();
    const dataDir = tempDir('cg-alerts-');
    logLines.length = 0;
    const first = await serverWith({ dataDir, keepData: true });
    const added = await api(first.server.url, first.admin, 'POST', '/api/alerts', { on: 'in-call', webhook: [{ url: `http://127.0.0.1:${port}/hook` }] });
    expect(added.status).toBe(201);
    const generated = added.body.secrets[0].secret as string; // made for us, shown this once
    expect(generated.length).toBeGreaterThanOrEqual(32);
    const a = await agent(first.server.wsUrl);
    const call = makeEvent({ state: 'in-call' });
    await a.send([call]);
    // The receiver refuses connections: the delivery is retried, and health says so.
    await vi.waitFor(async () => {
      const h = await first.server.fetchJson('/healthz', null);
      expect(h.body.components.alerts).toMatchObject({ state: 'failing', queued: 1, lastError: 'ECONNREFUSED' });
      expect(h.body.status).toBe('degraded');
    }, { timeout: 10_000 });
    a.close();
    await first.server.close();

    const second = await serverWith({ dataDir });
    const receiver = await startReceiver(port); // back, on the same port
    open.push(receiver);
    await vi.waitFor(() => expect(receiver.calls.length).toBe(1), { timeout: 15_000 });
    expect(receiver.calls[0]!.json.violationId).toBe(call.violationId);
    expect(verifySignature(receiver.calls[0]!, generated)).toBe(true);
    await vi.waitFor(async () => expect((await second.server.fetchJson('/healthz', null)).body.components.alerts).toMatchObject({ state: 'ok', queued: 0, delivered: 1 }), { timeout: 5000 });
    expect(JSON.stringify((await api(second.server.url, second.admin, 'GET', '/api/alerts')).body)).not.toContain(generated);
    // The failure streak was logged once, with a code and the masked target, never the secret.
    const failures = logLines.filter((l) => l.includes('alert delivery'));
    expect(failures.length).toBeGreaterThanOrEqual(1);
    expect(failures.join('')).toContain('ECONNREFUSED');
    expect(logLines.join('')).not.toContain(generated);
  });
});

describe('Teams and Slack', () => {
  it('sends an Adaptive Card message to a Teams Workflows URL and {text, blocks} to Slack; send test reports each channel', async () => {
    const receiver = await startReceiver();
    open.push(receiver);
    const { server, admin } = await serverWith();
    const added = await api(server.url, admin, 'POST', '/api/alerts', { on: 'in-call', teams: [`${receiver.url}/teams/workflows/abc123`], slack: [`${receiver.url}/slack/T000/B000/XXXXsecret`] });
    expect(added.status).toBe(201);
    // Slack and Teams URLs are credentials: never shown back whole.
    expect(JSON.stringify((await api(server.url, admin, 'GET', '/api/alerts')).body)).not.toContain('XXXXsecret');

    const test = await api(server.url, admin, 'POST', `/api/alerts/${added.body.id}/test`);
    expect(test.status).toBe(200);
    expect(test.body).toMatchObject({ ok: true, channels: [{ kind: 'teams', ok: true }, { kind: 'slack', ok: true }] });
    expect(receiver.calls.map((c) => c.json?.type ?? 'slack')).toEqual(['message', 'slack']);

    const a = await agent(server.wsUrl);
    open.push(a);
    await a.send([makeEvent({ app: 'zoom', state: 'in-call', user: `CLINIC\\${REAL_NAME}` })]);
    await vi.waitFor(() => expect(receiver.calls.length).toBe(4), { timeout: 10_000 });
    const teams = receiver.calls.slice(2).find((c) => c.path.startsWith('/teams'))!;
    expect(teams.headers['content-type']).toBe('application/json');
    expect(teams.json).toMatchObject({ type: 'message', attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', contentUrl: null, content: { type: 'AdaptiveCard', version: '1.4' } }] });
    const card = teams.json.attachments[0].content;
    expect(card.$schema).toBe('http://adaptivecards.io/schemas/adaptive-card.json');
    const factSet = card.body.find((b: { type: string }) => b.type === 'FactSet');
    expect(factSet.facts).toEqual(expect.arrayContaining([{ title: 'Workstation', value: 'TEST-PC' }, { title: 'State', value: 'in-call' }]));
    const slack = receiver.calls.slice(2).find((c) => c.path.startsWith('/slack'))!;
    expect(typeof slack.json.text).toBe('string');
    expect(slack.json.text).toContain('Zoom call on TEST-PC');
    expect(slack.json.blocks[0]).toMatchObject({ type: 'header', text: { type: 'plain_text' } });
    expect(slack.json.blocks.some((b: { type: string; fields?: unknown[] }) => b.type === 'section' && Array.isArray(b.fields))).toBe(true);
    for (const c of receiver.calls) expect(c.raw.toLowerCase()).not.toContain(REAL_NAME);

    expect((await api(server.url, admin, 'DELETE', `/api/alerts/${added.body.id}`)).status).toBe(200);
    expect((await api(server.url, admin, 'DELETE', `/api/alerts/${added.body.id}`)).status).toBe(404);
    const bad = await api(server.url, admin, 'POST', '/api/alerts', { on: 'in-cal', webhook: [{ url: 'http://x.example' }] });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('on');
  });
});
