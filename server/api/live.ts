/**
 * The live feed: violations pushed to dashboard clients as Server-Sent Events as soon as
 * their batch is committed and acked. Plain HTTP, so it passes proxies; EventSource in the
 * browser reconnects by itself.
 *
 * A client that does not read falls behind: once more than `maxBufferedBytes` wait in its
 * reply's buffer it is dropped (the socket is destroyed: ending it would queue the end
 * behind data that never leaves). A browser reconnects and reloads the page's rows, so a
 * dropped stream loses nothing; a stuck one would hold server memory without bound.
 *
 * Each stream belongs to a credential (a session or an API token). Logging out, a password
 * reset, disabling the user or revoking the token ends it: at once when done through this
 * server (`revalidate`), and within `recheckMs` when done by another process (the CLI).
 */
import type { ServerResponse } from 'node:http';
import type { Violation } from '../../shared/api-types.js';

export interface LiveOptions {
  heartbeatMs?: number;
  recheckMs?: number;
  maxBufferedBytes?: number;
}

interface Client {
  res: ServerResponse;
  /** Still allowed to read the feed (its session or token is valid). */
  valid: () => Promise<boolean>;
}

export const LIVE_DEFAULTS = { heartbeatMs: 25_000, recheckMs: 5_000, maxBufferedBytes: 256 * 1024 };

export function createLiveFeed(opts: LiveOptions = {}) {
  const { heartbeatMs, recheckMs, maxBufferedBytes } = { ...LIVE_DEFAULTS, ...opts };
  const clients = new Set<Client>();
  let dropped = 0;

  const drop = (c: Client, why: 'slow' | 'ended') => {
    clients.delete(c);
    if (why === 'slow') {
      dropped++;
      c.res.destroy();
    } else c.res.end();
  };
  const send = (c: Client, text: string) => {
    if (c.res.destroyed || c.res.writableEnded) return void clients.delete(c); // gone; its 'close' is on its way
    c.res.write(text);
    if (c.res.writableLength > maxBufferedBytes) drop(c, 'slow');
  };
  /** Never rejects: a check that fails ends its stream. */
  const revalidate = async (): Promise<void> => {
    await Promise.all([...clients].map(async (c) => {
      let ok: boolean;
      try {
        ok = await c.valid();
      } catch {
        ok = false; // the store is closing: no one keeps a stream
      }
      if (!ok && clients.has(c)) drop(c, 'ended');
    }));
  };

  const beat = setInterval(() => {
    for (const c of clients) send(c, ': keep-alive\n\n');
  }, heartbeatMs);
  const check = setInterval(() => void revalidate(), recheckMs);
  beat.unref();
  check.unref();
  return {
    subscribe(res: ServerResponse, valid: () => Promise<boolean>): void {
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no', connection: 'keep-alive' });
      const c: Client = { res, valid };
      clients.add(c);
      res.on('close', () => clients.delete(c));
      res.on('error', () => clients.delete(c)); // a reset socket: nothing to tell the client
      send(c, 'retry: 2000\n\n');
    },
    publish(violations: Violation[]): void {
      if (clients.size === 0) return;
      for (const v of violations) {
        const frame = `event: violation\ndata: ${JSON.stringify(v)}\n\n`;
        for (const c of clients) send(c, frame);
      }
    },
    /** Re-checks every stream's credential now (after a logout, reset, disable or revoke). */
    revalidate,
    size: (): number => clients.size,
    /** Streams dropped for falling behind, since start. */
    dropped: (): number => dropped,
    close(): void {
      clearInterval(beat);
      clearInterval(check);
      for (const c of clients) c.res.end();
      clients.clear();
    },
  };
}

export type LiveFeed = ReturnType<typeof createLiveFeed>;
