/**
 * The live feed: violations pushed to dashboard clients as Server-Sent Events as soon as
 * their batch is committed and acked. Plain HTTP, so it passes proxies; EventSource in the
 * browser reconnects by itself.
 */
import type { ServerResponse } from 'node:http';
import type { Violation } from '../store/violations.js';

export function createLiveFeed(heartbeatMs = 25_000) {
  const clients = new Set<ServerResponse>();
  const beat = setInterval(() => {
    for (const res of clients) res.write(': keep-alive\n\n');
  }, heartbeatMs);
  beat.unref();
  return {
    subscribe(res: ServerResponse): void {
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no', connection: 'keep-alive' });
      res.write('retry: 2000\n\n');
      clients.add(res);
      res.on('close', () => clients.delete(res));
    },
    publish(violations: Violation[]): void {
      if (clients.size === 0) return;
      for (const v of violations) {
        const frame = `event: violation\ndata: ${JSON.stringify(v)}\n\n`;
        for (const res of clients) res.write(frame);
      }
    },
    size: (): number => clients.size,
    close(): void {
      clearInterval(beat);
      for (const res of clients) res.end();
      clients.clear();
    },
  };
}

export type LiveFeed = ReturnType<typeof createLiveFeed>;
