/**
 * Starts roll-up rebuilds in a worker thread (rollup-worker.ts) from the server: at start
 * when the store's roll-ups are not counted in the clinic's zone. Reads use the
 * violations until it is done. Answers a stop function (terminates the worker; the next
 * start resumes where it stopped).
 */
import type { Logger } from '../../../shared/log.js';
import { runWorker, type StoreTaskError } from './run-worker.js';

export function startRollupRebuild(file: string, tz: string, resume: boolean, log: Logger): { stop: () => Promise<void>; done: Promise<boolean> } {
  log.warn({ tz, resume }, 'roll-ups are not counted in the clinic\'s time zone yet: counting them in a worker (trends and reports read the violations until it is done)');
  const task = runWorker<{ counted: number }>('rollup-worker', { file, tz, resume }, 'roll-up rebuild', (m) => {
    if (m.type === 'progress') log.info({ counted: m.counted, total: m.total }, 'roll-up rebuild: progress');
  });
  const done = task.result.then(
    (r) => {
      log.info({ counted: r.counted, tz }, 'roll-up rebuild: done; trends and reports read roll-ups');
      return true;
    },
    (err: StoreTaskError) => {
      // Stopped (the server shutting down): the next start resumes, nothing to say.
      if (err.code === 'worker_crashed') log.error({ err }, 'roll-up rebuild worker failed');
      else if (err.code !== 'worker_exited') log.error({ code: err.code, err }, 'roll-up rebuild failed; trends and reports keep reading the violations (run "consultguard-server rollups rebuild")');
      return false;
    },
  );
  return { stop: task.stop, done };
}
