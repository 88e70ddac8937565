/**
 * The native collector as one long-lived child of the agent: requests are written one line
 * at a time and each waits for its one-line answer (never two in flight, so answers cannot
 * be paired with the wrong request). A request that takes longer than `timeoutMs` kills
 * the child; a dead child is started again at the next request once its back-off (1 s,
 * doubling to 60 s) has passed. Until then requests fail at once, and the caller falls back.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import type { Socket } from 'node:net';
import { AppError, describe } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';

export interface CollectorCommand {
  file: string;
  args: string[];
}

export interface NativeChildOptions {
  command: CollectorCommand;
  timeoutMs?: number;
  backoff?: { minMs: number; maxMs: number };
  log?: Logger;
  now?: () => number;
}

export interface NativeChild {
  request(line: string): Promise<string>;
  /** Linux/Windows pid of the running child, if any (tests and the benchmark read its CPU). */
  pid(): number | undefined;
  /** Why the last request failed, while in a failure streak; null when it works. */
  failure(): string | null;
  close(): void;
}

interface Pending {
  resolve: (line: string) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export function createNativeChild(opts: NativeChildOptions): NativeChild {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const backoff = opts.backoff ?? { minMs: 1000, maxMs: 60_000 };
  const now = opts.now ?? Date.now;
  let child: ChildProcessWithoutNullStreams | null = null;
  let buffered = '';
  let pending: Pending | null = null;
  let queue: Promise<unknown> = Promise.resolve();
  let failures = 0;
  let retryAt = 0;
  let lastFailure: string | null = null;
  let closed = false;

  function fail(reason: string): void {
    failures++;
    retryAt = now() + Math.min(backoff.maxMs, backoff.minMs * 2 ** (failures - 1));
    // One warning per streak, not one per poll.
    if (lastFailure === null) opts.log?.warn({ reason, retryInMs: retryAt - now() }, 'native collector failed; polls use ps-list and systeminformation until it works again');
    lastFailure = reason;
  }

  function stop(reason: string): void {
    const c = child;
    child = null;
    buffered = '';
    if (c && c.exitCode === null && c.signalCode === null) c.kill();
    if (pending) {
      clearTimeout(pending.timer);
      pending.reject(new AppError('internal', reason));
      pending = null;
    }
  }

  function start(): ChildProcessWithoutNullStreams {
    // windowsHide: CREATE_NO_WINDOW, so no console flashes in a clinician's session.
    const c = spawn(opts.command.file, opts.command.args, { stdio: ['pipe', 'pipe', 'pipe'], windowsHide: true });
    // The child never keeps the agent alive by itself (`scan --live`, `record` exit when done);
    // a request in flight is kept alive by its timeout timer.
    c.unref();
    for (const stream of [c.stdin, c.stdout, c.stderr]) (stream as unknown as Partial<Socket>).unref?.();
    c.stdout.setEncoding('utf8');
    c.stdout.on('data', (chunk: string) => {
      if (c !== child) return;
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        const p = pending;
        pending = null;
        if (p) {
          clearTimeout(p.timer);
          p.resolve(line);
        }
      }
    });
    c.stderr.resume(); // wine's own chatter; never let it fill the pipe
    c.stdin.on('error', () => undefined); // EPIPE when the child died: the exit handler reports it
    c.on('error', (err) => {
      if (c !== child) return;
      fail(`cannot start ${opts.command.file}: ${describe(err)}`);
      stop(`the native collector could not be started: ${describe(err)}`);
    });
    c.on('exit', (code, signal) => {
      if (c !== child) return;
      fail(`exited (${signal ?? `code ${code}`})`);
      stop(`the native collector exited (${signal ?? `code ${code}`})`);
    });
    return c;
  }

  function send(line: string): Promise<string> {
    if (closed) return Promise.reject(new AppError('internal', 'the native collector is closed'));
    if (!child) {
      if (now() < retryAt) return Promise.reject(new AppError('internal', `the native collector is restarting (${lastFailure ?? 'failed'}); next try in ${retryAt - now()} ms`));
      child = start();
    }
    const c = child;
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        fail(`no answer within ${timeoutMs} ms`);
        stop(`the native collector did not answer within ${timeoutMs} ms`);
      }, timeoutMs);
      pending = {
        timer,
        reject,
        resolve(answer) {
          if (lastFailure !== null) opts.log?.info('native collector works again');
          failures = 0;
          lastFailure = null;
          resolve(answer);
        },
      };
      c.stdin.write(`${line}\n`);
    });
  }

  return {
    request(line) {
      const result = queue.then(() => send(line));
      queue = result.catch(() => undefined);
      return result;
    },
    pid: () => child?.pid,
    failure: () => lastFailure,
    close() {
      closed = true;
      const c = child;
      stop('the native collector is closed');
      c?.stdin.end();
    },
  };
}
