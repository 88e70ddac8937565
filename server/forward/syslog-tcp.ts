/**
 * A syslog-over-TCP link that stays up: it connects at start, and whenever the receiver
 * goes away (closed, refused, reset, unreachable) it reconnects with capped exponential
 * back-off for as long as the server runs. Messages sent while down wait in a bounded
 * queue (oldest dropped, and counted, beyond it) and go out on reconnect. Events are stored
 * before they are forwarded, so a drop loses a SIEM copy, never an event.
 */
import { connect, type Socket } from 'node:net';
import type { Logger } from '../../shared/log.js';
import { createBackoff, createStreak, type StreakStatus } from '../health/streak.js';

export interface LinkOptions {
  host: string;
  port: number;
  log: Logger;
  /** First retry delay and its cap (ms). */
  retry?: { initialMs: number; maxMs: number };
  /** Messages kept while disconnected. */
  maxQueued?: number;
}

export interface LinkStatus extends StreakStatus {
  queued: number;
  dropped: number;
}

/** Past this much unsent data on a live socket the receiver is not keeping up: drop instead. */
const MAX_SOCKET_BUFFER = 8 * 1024 * 1024;

export function createTcpLink(opts: LinkOptions) {
  const streak = createStreak(opts.log, `syslog tcp://${opts.host}:${opts.port}`);
  const backoff = createBackoff(opts.retry?.initialMs ?? 500, opts.retry?.maxMs ?? 30_000);
  const maxQueued = opts.maxQueued ?? 10_000;
  const queue: string[] = [];
  let dropped = 0;
  let socket: Socket | null = null;
  let connected = false;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;

  function open(): void {
    const s = connect({ host: opts.host, port: opts.port });
    socket = s;
    s.setKeepAlive(true, 30_000);
    s.setNoDelay(true);
    s.on('connect', () => {
      connected = true;
      backoff.reset();
      streak.ok();
      while (queue.length > 0 && socket === s) write(s, queue.shift()!);
    });
    // A receiver does not talk back; reading is what lets us see its FIN at once.
    s.on('data', () => undefined);
    s.on('error', (err) => streak.fail(err, { host: opts.host, port: opts.port }));
    s.on('close', () => {
      if (socket !== s) return;
      socket = null;
      connected = false;
      if (closed) return;
      streak.pending();
      timer = setTimeout(open, backoff.next());
      timer.unref();
    });
  }

  function write(s: Socket, frame: string): void {
    if (s.writableLength > MAX_SOCKET_BUFFER) {
      dropped += 1;
      return;
    }
    s.write(frame);
  }

  open();
  return {
    send(line: string): void {
      if (closed) return;
      // RFC 6587 octet counting, so a message may contain newlines.
      const frame = `${Buffer.byteLength(line)} ${line}`;
      if (connected && socket) return write(socket, frame);
      queue.push(frame);
      if (queue.length > maxQueued) {
        queue.shift();
        dropped += 1;
      }
    },
    status: (): LinkStatus => ({ ...streak.status(), queued: queue.length, dropped }),
    close(): void {
      closed = true;
      clearTimeout(timer);
      // Flush what is written to a live receiver; a connect still in progress is just dropped.
      if (connected) socket?.end();
      else socket?.destroy();
      socket = null;
    },
  };
}
