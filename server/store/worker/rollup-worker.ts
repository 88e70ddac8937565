/**
 * A roll-up rebuild off the server's event loop: a worker thread with its own SQLite
 * connection to the same file (WAL lets it read while the server writes; its writes are
 * short chunk transactions that wait their turn behind ingest's). Posts
 * `{ type: 'progress', counted, total }` and finally `{ type: 'done', result: { counted } }` or
 * `{ type: 'error', code, message }` (run-worker.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { lowerThisThread } from './priority.js';
import { openDb } from '../db.js';
import { rebuildRollups } from '../rollup-rebuild.js';

interface Job { file: string; tz: string; resume: boolean }

const job = workerData as Job;
lowerThisThread();
const db = openDb(job.file);
try {
  let last = 0;
  const r = await rebuildRollups(db, job.tz, {
    resume: job.resume,
    onProgress: (p) => {
      if (p.counted - last < 50_000) return;
      last = p.counted;
      parentPort?.postMessage({ type: 'progress', ...p });
    },
  });
  parentPort?.postMessage({ type: 'done', result: { counted: r.counted } });
} catch (err) {
  parentPort?.postMessage({ type: 'error', code: (err as { code?: string }).code ?? 'error', message: (err as Error).message ?? String(err) });
} finally {
  db.close();
}
