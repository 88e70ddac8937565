/**
 * The main thread's side of the report reader (server/store/worker/read-worker.ts): trends
 * with their exception counts, and the filter lists, asked of one long-lived worker thread
 * so their sums never run on the event loop that acks agents. Started at the first ask; if it
 * dies (out of memory, a bug), what was waiting fails as `store_unavailable` (503, try again)
 * and the next ask starts a new one. The same on every OS (worker_threads, SQLite WAL).
 */
import { Worker } from 'node:worker_threads';
import type { FilterValues, Trends } from '../../shared/api-types.js';
import { AppError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { ReadAsk, ReadJob, ReadReply, ReadRequest } from '../store/worker/read-worker.js';
import { workerUrl } from '../store/worker/url.js';

export interface ExceptionCounts { claimed: number; accepted: number; rejected: number; pending: number; unexplained: number }

export function createOffThreadReads(job: ReadJob, log?: Logger) {
  let worker: Worker | null = null;
  let nextId = 1;
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  function start(): Worker {
    const w = new Worker(workerUrl('read-worker'), { workerData: job });
    w.unref(); // an idle reader never keeps the server up
    w.on('message', (m: ReadReply) => {
      const p = waiting.get(m.id);
      if (!p) return;
      waiting.delete(m.id);
      if (m.ok) p.resolve(m.value);
      // Carries SQLite's code, so the reply says busy/full like any other store failure (api/http.ts).
      else p.reject(Object.assign(new Error(`report reader: ${m.code}`), { code: m.code }));
    });
    const gone = (err?: unknown) => {
      if (worker !== w) return;
      worker = null;
      if (err !== undefined) log?.error({ err }, 'report reader thread failed; the next request starts a new one');
      for (const p of waiting.values()) p.reject(new AppError('store_unavailable', 'the report reader stopped; try again'));
      waiting.clear();
    };
    w.on('error', gone);
    w.on('exit', () => gone());
    return w;
  }

  function ask<T>(req: ReadAsk): Promise<T> {
    worker ??= start();
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      worker!.postMessage({ ...req, id } satisfies ReadRequest);
    });
  }

  return {
    trends: (since: number, until: number, timezone: string, withExceptions: boolean) =>
      ask<{ trends: Trends; exceptions: ExceptionCounts | null }>({ op: 'trends', since, until, timezone, withExceptions }),
    filterValues: () => ask<FilterValues>({ op: 'filterValues' }),
    async close(): Promise<void> {
      const w = worker;
      worker = null;
      for (const p of waiting.values()) p.reject(new AppError('store_unavailable', 'the server is stopping'));
      waiting.clear();
      if (w) await w.terminate();
    },
  };
}

export type OffThreadReads = ReturnType<typeof createOffThreadReads>;
