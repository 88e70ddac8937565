/** The /agent endpoint against raw clients: auth, close codes, exactly-once storage. */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connectRaw, eventFrame, helloFrame, makeEvent, type RawClient } from '../support/ws-client.js';
import { startTestServer, TEST_SECRET, type TestServer } from '../support/server.js';

let server: TestServer;
const clients: RawClient[] = [];
async function client(): Promise<RawClient> {
  const c = await connectRaw(server.wsUrl);
  clients.push(c);
  return c;
}
async function enrolled(over: Record<string, unknown> = {}) {
  const c = await client();
  const hello = helloFrame({ enrollSecret: TEST_SECRET, ...over });
  c.send(hello);
  const welcome = await c.next('welcome');
  return { c, hello, welcome };
}

beforeEach(async () => {
  server = await startTestServer({ helloTimeoutMs: 300 });
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await server.close();
});

describe('enrolment and tokens', () => {
  it('enrols with the secret, returns a per-agent token and the policy', async () => {
    const { welcome, hello } = await enrolled();
    expect(welcome.agentId).toBe(hello.agentId);
    expect(welcome.token).toMatch(/^cga_/);
    expect(welcome.policy.name).toBe('demo');
    expect(welcome.policy.catalog.apps.map((a: { id: string }) => a.id)).toContain('zoom');
  });

  it('refuses a wrong enrolment secret with unauthorized and 4401', async () => {
    const c = await client();
    c.send(helloFrame({ enrollSecret: 'not-the-secret' }));
    expect(await c.next('error')).toMatchObject({ code: 'unauthorized', message: expect.stringMatching(/enrolment secret/) });
    expect((await c.closed).code).toBe(4401);
  });

  it('accepts the issued token on reconnect, and refuses it for another agent id', async () => {
    const { welcome, hello } = await enrolled();
    const again = await client();
    again.send(helloFrame({ agentId: hello.agentId, token: welcome.token }));
    expect((await again.next('welcome')).token).toBe(welcome.token);

    const thief = await client();
    thief.send(helloFrame({ token: welcome.token }));
    expect(await thief.next('error')).toMatchObject({ code: 'unauthorized' });
    expect((await thief.closed).code).toBe(4401);
  });

  it('closes with 4408 when no hello arrives in time', async () => {
    const c = await client();
    expect(await c.next('error')).toMatchObject({ code: 'hello_timeout' });
    expect((await c.closed).code).toBe(4408);
  });
});

describe('malformed frames', () => {
  it.each([
    ['not JSON', '{nope', 'bad_json'],
    ['a JSON array', '[1,2]', 'bad_message'],
    ['an unknown type', JSON.stringify({ type: 'launch-missiles' }), 'bad_message'],
    ['events before hello', JSON.stringify(eventFrame(1, [makeEvent()])), 'hello_required'],
    ['a hello with a bad agent id', JSON.stringify(helloFrame({ agentId: 'x', enrollSecret: TEST_SECRET })), 'bad_message'],
  ])('answers %s with %s and close 4400, and keeps serving another agent', async (_what, frame, code) => {
    const { c: good } = await enrolled();
    const bad = await client();
    bad.send(frame);
    const err = await bad.next('error');
    expect(err.code).toBe(code);
    expect(err.message.length).toBeGreaterThan(10);
    expect((await bad.closed).code).toBe(4400);

    good.send(eventFrame(7, [makeEvent()]));
    expect(await good.next('ack')).toEqual({ type: 'ack', batch: 7 });
  });

  it('names the bad field of an events frame', async () => {
    const { c } = await enrolled();
    c.send(eventFrame(1, [makeEvent({ state: 'dancing' })]));
    const err = await c.next('error');
    expect(err).toMatchObject({ code: 'bad_message' });
    expect(err.message).toContain('events[0].state');
    expect((await c.closed).code).toBe(4400);
  });
});

describe('exactly-once storage', () => {
  it('acks a resent batch without storing it twice', async () => {
    const { c, hello } = await enrolled();
    const violationId = randomUUID();
    const started = makeEvent({ violationId, at: '2026-11-23T09:00:00.000Z' });
    const ended = makeEvent({ violationId, kind: 'ended', at: '2026-11-23T09:10:00.000Z' });
    c.send(eventFrame(2, [started, ended]));
    expect((await c.next('ack')).batch).toBe(2);
    c.send(eventFrame(2, [started, ended]));
    expect((await c.next('ack')).batch).toBe(2);

    const { body } = await server.fetchJson(`/api/violations?agent=${hello.agentId}`);
    expect(body.items).toHaveLength(1);
    expect(body.items[0]).toMatchObject({ id: violationId, startedAt: '2026-11-23T09:00:00.000Z', endedAt: '2026-11-23T09:10:00.000Z', durationSec: 600 });
  });

  it('keeps the highest state a violation reached', async () => {
    const { c, hello } = await enrolled();
    const violationId = randomUUID();
    c.send(eventFrame(1, [
      makeEvent({ violationId }),
      makeEvent({ violationId, kind: 'updated', state: 'in-call', via: 'process+network' }),
      makeEvent({ violationId, kind: 'updated', state: 'running' }),
    ]));
    await c.next('ack');
    const { body } = await server.fetchJson(`/api/violations?agent=${hello.agentId}`);
    expect(body.items[0]).toMatchObject({ state: 'in-call', via: 'process+network' });
  });
});
