/**
 * Streams a CSV that a worker thread makes (server/store/worker/csv-worker.ts) to an HTTP
 * reply: the event loop only copies pages to the socket, so a year's export never holds
 * up agent acks. Backpressure end to end: a page is written, and the worker may make the
 * next one only when the reply has taken it (`drain` when its buffer was full); a client
 * that goes away stops the worker. The same on every OS (worker_threads, WAL).
 */
import type { ServerResponse } from 'node:http';
import { Worker } from 'node:worker_threads';
import type { CsvJob } from '../store/worker/csv-worker.js';
import { workerUrl } from '../store/worker/url.js';


export function streamCsvOffThread(res: ServerResponse, header: string, job: CsvJob): Promise<'done' | 'closed' | 'failed'> {
  return new Promise((resolve) => {
    const worker = new Worker(workerUrl('csv-worker'), { workerData: job });
    let finished = false;
    const finish = (how: 'done' | 'closed' | 'failed') => {
      if (finished) return;
      finished = true;
      res.off('close', onClose);
      void worker.terminate();
      if (how === 'done') res.end();
      else if (!res.writableEnded) res.destroy(); // a cut reply, never a CSV that looks whole
      resolve(how);
    };
    const onClose = () => finish('closed');
    res.on('close', onClose);
    res.on('error', onClose);
    res.write(header);
    worker.on('message', (m: { type: string; text?: string }) => {
      if (finished) return;
      if (m.type === 'chunk') {
        if (res.write(m.text!)) worker.postMessage({ type: 'more' });
        else res.once('drain', () => !finished && worker.postMessage({ type: 'more' }));
      }
      if (m.type === 'done') finish('done');
      if (m.type === 'error') finish('failed');
    });
    worker.on('error', () => finish('failed'));
    worker.on('exit', () => finish(finished ? 'done' : 'failed'));
  });
}
