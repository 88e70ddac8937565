/**
 * Starts roll-up rebuilds in a worker thread (rollup-worker.ts) from the server: at start
 * when the store's roll-ups are not counted in the clinic's zone. Reads use the
 * violations until it is done. Answers a stop function (terminates the worker; the next
 * start resumes where it stopped).
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from '../../../shared/log.js';
import { workerUrl } from './url.js';

export function startRollupRebuild(file: string, tz: string, resume: boolean, log: Logger): { stop: () => Promise<void>; done: Promise<boolean> } {
  const worker = new Worker(workerUrl('rollup-worker'), { workerData: { file, tz, resume } });
  log.warn({ tz, resume }, 'roll-ups are not counted in the clinic\'s time zone yet: counting them in a worker (trends and reports read the violations until it is done)');
  const done = new Promise<boolean>((resolve) => {
    worker.on('message', (m: { type: string; counted?: number; total?: number; code?: string }) => {
      if (m.type === 'progress') log.info({ counted: m.counted, total: m.total }, 'roll-up rebuild: progress');
      if (m.type === 'done') {
        log.info({ counted: m.counted, tz }, 'roll-up rebuild: done; trends and reports read roll-ups');
        resolve(true);
      }
      if (m.type === 'error') {
        log.error({ code: m.code }, 'roll-up rebuild failed; trends and reports keep reading the violations (run "consultguard-server rollups rebuild")');
        resolve(false);
      }
    });
    worker.on('error', (err) => {
      log.error({ err }, 'roll-up rebuild worker failed');
      resolve(false);
    });
    worker.on('exit', () => resolve(false));
  });
  return { stop: async () => void (await worker.terminate()), done };
}
