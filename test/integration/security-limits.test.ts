/**
 * Issue 11, store flooding: per-agent quotas, the enrolment cap per secret, and event times
 * against the server's clock, against a real server on loopback with real sockets, the
 * agent's real outbox and transport, and /metrics. Each test fails on the code before the fix.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createOutbox } from '../../agent/outbox.js';
import { createTransport } from '../../agent/transport.js';
import { silentLogger } from '../../shared/log.js';
import type { Event } from '../../shared/protocol.js';
import { storedEvents } from '../support/agent.js';
import { enrolRaw } from '../support/enrol.js';
import { runCli } from '../support/processes.js';
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

async function metric(s: TestServer, line: RegExp): Promise<number> {
  const text = await fetch(`${s.url}/metrics`).then((r) => r.text());
  const m = text.split('\n').find((l) => line.test(l));
  return m ? Number(m.split(' ').at(-1)) : NaN;
}

describe('per-agent quotas', () => {
  it('refuses a batch over the events quota (no ack, 4429, retryAfterSec), counts it, and stores nothing of it', async () => {
    server = await startTestServer({ quotaEventsPerHour: 5 });
    const { c, hello } = await enrol(server);
    c.send(eventFrame(1, Array.from({ length: 5 }, () => makeEvent())));
    expect(await c.next('ack')).toEqual({ type: 'ack', batch: 1 });
    const over = Array.from({ length: 3 }, () => makeEvent());
    c.send(eventFrame(2, over));
    const err = await c.next('error');
    expect(err).toMatchObject({ code: 'quota_exceeded', message: expect.stringMatching(/events-per-hour quota/) });
    expect(err.retryAfterSec).toBeGreaterThan(60); // 3 events at 5 an hour: over half an hour
    expect((await c.closed).code).toBe(4429);
    expect(c.messages.filter((m) => m.type === 'ack')).toHaveLength(1);
    expect(storedEvents(server.dataDir, hello.agentId)).toHaveLength(5);
    expect(await metric(server, /^consultguard_quota_refused_total\{kind="events"\}/)).toBe(1);
    expect(await metric(server, /^consultguard_frames_rejected_total\{code="quota_exceeded"\}/)).toBe(1);

    // The quota belongs to the agent, not the connection: reconnecting does not refill it.
    const again = await connectRaw(server.wsUrl);
    clients.push(again);
    again.send(helloFrame({ agentId: hello.agentId, token: (c.messages[0] as { token: string }).token }));
    await again.next('welcome');
    again.send(eventFrame(2, over));
    expect(await again.next('error')).toMatchObject({ code: 'quota_exceeded' });
  });

  it('refuses a frame over the bytes quota', async () => {
    server = await startTestServer({ quotaBytesPerHour: 4096 });
    const { c } = await enrol(server);
    const big = () => makeEvent({ evidence: Array.from({ length: 8 }, () => 'x'.repeat(400)) });
    c.send(eventFrame(1, [big(), big()])); // a full bucket admits one frame, whatever its size
    await c.next('ack');
    c.send(eventFrame(2, [big()]));
    expect(await c.next('error')).toMatchObject({ code: 'quota_exceeded', message: expect.stringMatching(/bytes-per-hour/) });
    expect((await c.closed).code).toBe(4429);
    expect(await metric(server, /^consultguard_quota_refused_total\{kind="bytes"\}/)).toBe(1);
  });

  it('loses nothing: the agent keeps refused batches in its outbox and delivers them once under quota', async () => {
    // A 3-second "hour" so the quota refills within the test; the logic is the same.
    server = await startTestServer({ quotaEventsPerHour: 5, quotaWindowMs: 3000 });
    const dir = tempDir();
    const outbox = createOutbox({ dir: join(dir, 'outbox'), maxEvents: 1000, maxBytes: 1 << 20 });
    let token: string | null = null;
    const agentId = randomUUID();
    const transport = createTransport({
      serverUrl: server.url, insecure: false, agentId, token: () => token, setToken: (t) => (token = t), enrollSecret: TEST_SECRET,
      agentVersion: 't', outbox, log: silentLogger(), onPolicy: () => undefined, batchSize: 5, batchDelayMs: 5, backoff: { minMs: 50, maxMs: 200 },
    });
    const events: Event[] = Array.from({ length: 12 }, () => makeEvent() as Event);
    outbox.append(events);
    transport.start();
    await vi.waitFor(() => expect(outbox.stats().depth).toBe(0), { timeout: 20_000, interval: 100 });
    await transport.stop(100);
    expect(new Set(storedEvents(server.dataDir, agentId).map((e) => e.id))).toEqual(new Set(events.map((e) => e.id)));
    expect(await metric(server, /^consultguard_quota_refused_total\{kind="events"\}/)).toBeGreaterThanOrEqual(1);
  });
});

describe('enrolment cap per secret', () => {
  it('refuses enrolments past the cap (enrolment_limit, 4401); enrolled agents keep working; a new secret enrols more', async () => {
    server = await startTestServer({ enrollLimit: 2 });
    const a = await enrol(server);
    const b = await enrol(server);
    expect([a.first.type, b.first.type]).toEqual(['welcome', 'welcome']);
    const c = await enrol(server);
    expect(c.first).toMatchObject({ type: 'error', code: 'enrolment_limit', message: expect.stringMatching(/limit of 2/) });
    expect((await c.c.closed).code).toBe(4401);

    const back = await connectRaw(server.wsUrl);
    clients.push(back);
    back.send(helloFrame({ agentId: a.hello.agentId, token: a.first.token }));
    expect((await back.next()).type).toBe('welcome');

    const fresh = (await runCli('server', ['secret', 'create', '--data', server.dataDir])).stdout.trim();
    expect((await enrol(server, { enrollSecret: fresh })).first.type).toBe('welcome');
  });
});

describe('event times against the server clock', () => {
  it('clamps a started event dated 9999-12-31 to the time of receipt, and keeps a days-old one as sent', async () => {
    server = await startTestServer();
    const { c, hello } = await enrol(server);
    const future = makeEvent({ at: '9999-12-31T23:59:59.000Z' });
    const daysOld = new Date(Date.now() - 4 * 86_400_000).toISOString();
    const old = makeEvent({ at: daysOld });
    const before = Date.now();
    c.send(eventFrame(1, [future, old]));
    await c.next('ack');
    const items = (await server.fetchJson(`/api/violations?agent=${hello.agentId}`)).body.items as Array<{ id: string; startedAt: string }>;
    expect(items).toHaveLength(2);
    const clamped = Date.parse(items.find((v) => v.id === future.violationId)!.startedAt);
    expect(clamped).toBeGreaterThanOrEqual(before - 1000);
    expect(clamped).toBeLessThanOrEqual(Date.now() + 1000);
    expect(items.find((v) => v.id === old.violationId)!.startedAt).toBe(daysOld);
    expect(await metric(server, /^consultguard_event_times_adjusted_total\{outcome="clamped"\}/)).toBe(1);
  });

  it('accepts a few minutes of clock skew, and acks without storing events older than retention', async () => {
    server = await startTestServer({ retentionDays: 30 });
    const { c, hello } = await enrol(server);
    const skewed = new Date(Date.now() + 2 * 60_000).toISOString();
    const ahead = makeEvent({ at: skewed });
    const ancient = makeEvent({ at: new Date(Date.now() - 31 * 86_400_000).toISOString() });
    c.send(eventFrame(1, [ahead, ancient]));
    expect(await c.next('ack')).toEqual({ type: 'ack', batch: 1 });
    const items = (await server.fetchJson(`/api/violations?agent=${hello.agentId}`)).body.items as Array<{ id: string; startedAt: string }>;
    expect(items.map((v) => v.id)).toEqual([ahead.violationId]);
    expect(items[0]!.startedAt).toBe(skewed);
    expect(await metric(server, /^consultguard_event_times_adjusted_total\{outcome="expired"\}/)).toBe(1);
  });
});
