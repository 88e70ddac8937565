/**
 * Two server instances on one store (two processes' worth of SQLite connections, in one
 * test process): an alert is delivered once and a report period mailed once, whichever
 * instance's loop gets there first.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startTestServer, tempDir, type TestServer } from '../support/server.js';
import { adminToken, agent, api, makeEvent, startReceiver, startSmtp } from './alerts-receivers.js';

const FAST = { tickMs: 20, retryBaseMs: 100, retryCapMs: 400, maxAttempts: 1000, concurrency: 4, timeoutMs: 2000, silentCheckMs: 50 };
const open: Array<{ close(): Promise<void> | void }> = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

describe('two instances on one store', () => {
  it('send each alert and each report period once', async () => {
    const receiver = await startReceiver();
    const smtp = await startSmtp();
    open.push(receiver, smtp);
    const dataDir = tempDir('cg-alerts-two-');
    const admin = await adminToken(dataDir);
    const opts = { dataDir, alerts: FAST, smtpUrl: smtp.url, reportCheckMs: 20, keepData: true };
    const one: TestServer = await startTestServer(opts);
    const two: TestServer = await startTestServer({ ...opts, keepData: false });
    open.push(two, one);

    await api(one.url, admin, 'POST', '/api/alerts', { on: 'in-call', webhook: [{ url: receiver.url }] });
    const a = await agent(two.wsUrl); // the rule was added on the other instance
    open.push(a);
    const calls = [makeEvent({ state: 'in-call' }), makeEvent({ state: 'in-call' }), makeEvent({ state: 'in-call' })];
    for (const e of calls) await a.send([e]);
    await vi.waitFor(() => expect(new Set(receiver.calls.map((c) => c.json.violationId)).size).toBe(3), { timeout: 10_000 });

    await api(two.url, admin, 'POST', '/api/reports', { every: 'weekly', site: 'north', email: ['lead@clinic.example'] });
    await vi.waitFor(() => expect(smtp.mails.length).toBe(1), { timeout: 10_000 });
    // Both loops have run many times since; a marker alert proves they are still going.
    const marker = makeEvent({ state: 'in-call' });
    await a.send([marker]);
    await vi.waitFor(() => expect(receiver.calls.some((c) => c.json.violationId === marker.violationId)).toBe(true), { timeout: 10_000 });
    expect(receiver.calls).toHaveLength(4);
    expect(smtp.mails).toHaveLength(1);
  });
});
