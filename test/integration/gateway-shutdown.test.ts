/**
 * Shutting the server down while an agent is still connecting. The gateway waits (up to 1 s)
 * for the sockets it knows to close before the store closes; an agent that connected in
 * that window used to be accepted, enrolled, and left open past the store's close, so its
 * later disconnect wrote `lastSeen` to a closed database: an uncaught TypeError ("The
 * database connection is not open") that ends a real server process. Now an upgrade that
 * arrives while the gateway closes is refused with 503.
 */
import { connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { helloFrame } from '../support/ws-client.js';
import { startTestServer, TEST_SECRET } from '../support/server.js';

/** An agent socket that never answers the server's close frame (the gateway waits for it). */
function stubbornAgent(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => {
      s.write('GET /agent HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
    });
    s.on('error', () => undefined);
    s.once('data', (d: Buffer) => (d.toString().startsWith('HTTP/1.1 101') ? resolve(s) : reject(new Error(d.toString()))));
  });
}

describe('gateway shutdown', () => {
  it('refuses an agent that connects while the server closes, so no socket outlives the store', async () => {
    const server = await startTestServer();
    const uncaught: unknown[] = [];
    const record = (err: unknown) => uncaught.push(err);
    process.on('uncaughtException', record);
    try {
      const stubborn = await stubbornAgent(server.port);
      const closing = server.close(); // waits for the stubborn socket, up to 1 s
      const late = new WebSocket(server.wsUrl, { perMessageDeflate: false });
      late.on('error', () => undefined);
      const outcome = await new Promise<string>((resolve) => {
        late.once('unexpected-response', (_req, res) => resolve(`refused ${res.statusCode}`));
        late.once('open', () => {
          late.send(JSON.stringify(helloFrame({ enrollSecret: TEST_SECRET })));
          resolve('accepted');
        });
        late.once('error', (err) => resolve(`error ${err.message}`));
      });
      await closing;
      // Whatever happened, the late socket closes after the store did: that must not throw.
      late.terminate();
      stubborn.destroy();
      await new Promise((r) => setTimeout(r, 200)); // let the close events run (nothing to poll for)
      expect(outcome).toBe('refused 503');
      expect(uncaught).toEqual([]);
    } finally {
      process.off('uncaughtException', record);
    }
  });
});
