/**
 * Enrols a raw WebSocket client (test/support/ws-client.ts) against a test server with the
 * test enrolment secret, for tests that replay the agent protocol frame by frame.
 */
import { TEST_SECRET, type TestServer } from './server.js';
import { connectRaw, eventFrame, helloFrame, makeEvent, type RawClient } from './ws-client.js';

/** `over` replaces hello fields; the client is pushed onto `clients`, which the test closes after each case. */
export async function enrolRaw(s: TestServer, clients: RawClient[], over: Record<string, unknown> = {}) {
  const c = await connectRaw(s.wsUrl);
  clients.push(c);
  const hello = helloFrame({ enrollSecret: TEST_SECRET, ...over });
  c.send(hello);
  return { c, hello, first: await c.next() };
}

/**
 * One violation in the store: a fresh raw agent enrols, reports one `started` event, is
 * acknowledged and disconnects. Returns the hello (for its agentId) and the event.
 */
export async function reportOneViolation(s: TestServer) {
  const c = await connectRaw(s.wsUrl);
  const hello = helloFrame({ enrollSecret: TEST_SECRET });
  c.send(hello);
  await c.next('welcome');
  const e = makeEvent();
  c.send(eventFrame(1, [e]));
  await c.next('ack');
  c.close();
  return { hello, e };
}
