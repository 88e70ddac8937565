/**
 * Runs a worker script of this folder and answers its result: the worker posts
 * `{ type: 'done', result }` or `{ type: 'error', code, message }`, and any other message
 * (progress) goes to `onMessage`. A task that fails (the store locked past busy_timeout, a
 * full disk, a damaged file), a worker that crashes or is stopped, rejects with a
 * StoreTaskError that says which task, what went wrong and what to do; it never takes the
 * server down. `stop()` terminates the worker (an open transaction in it is rolled back by
 * SQLite). Used for the one-shot store tasks (store-worker.ts) and the roll-up rebuild.
 */
import { Worker } from 'node:worker_threads';
import type { StoreTask } from './store-worker.js';
import { workerUrl } from './url.js';

const HINTS: Record<string, string> = {
  SQLITE_BUSY: 'another writer held the store longer than busy_timeout (5 s); it is tried again at the next run',
  SQLITE_LOCKED: 'another writer held the store longer than busy_timeout (5 s); it is tried again at the next run',
  SQLITE_FULL: 'the disk holding the data folder is full; free space there',
  SQLITE_IOERR: 'reading or writing the database file failed; check the disk holding the data folder',
  SQLITE_CORRUPT: 'the database file is damaged; restore it from a backup (consultguard-server backup)',
  SQLITE_NOTADB: 'the database file is damaged; restore it from a backup (consultguard-server backup)',
};

export class StoreTaskError extends Error {
  constructor(task: string, readonly code: string, detail: string) {
    const hint = HINTS[code] ?? HINTS[code.replace(/_[A-Z]+$/, '')] ?? 'see the detail; the server goes on';
    super(`${task} failed in its worker thread: ${code} (${detail}): ${hint}`);
    this.name = 'StoreTaskError';
  }
}

export function runWorker<T>(name: Parameters<typeof workerUrl>[0], data: unknown, task: string, onMessage?: (m: Record<string, unknown>) => void): { result: Promise<T>; stop: () => Promise<void> } {
  const worker = new Worker(workerUrl(name), { workerData: data });
  const result = new Promise<T>((resolve, reject) => {
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      fn();
    };
    worker.on('message', (m: { type: string; result?: T; code?: string; message?: string }) => {
      if (m.type === 'done') settle(() => resolve(m.result as T));
      else if (m.type === 'error') settle(() => reject(new StoreTaskError(task, m.code ?? 'error', m.message ?? 'no detail')));
      else if (!settled) onMessage?.(m);
    });
    worker.on('error', (err) => settle(() => reject(new StoreTaskError(task, 'worker_crashed', err.message))));
    worker.on('exit', (code) => settle(() => reject(new StoreTaskError(task, 'worker_exited', `exit code ${code} before it answered; the store stopped it or it crashed`))));
  });
  return { result, stop: async () => void (await worker.terminate()) };
}

/** A one-shot store task (store-worker.ts). */
export const runStoreTask = <T>(task: StoreTask) => runWorker<T>('store-worker', task, task.kind);
