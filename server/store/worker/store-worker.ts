/**
 * One-shot store tasks off the server's event loop, each in a worker thread with its own
 * SQLite connection to the same file (openServerDb: the same pragmas as the server's, WAL,
 * busy_timeout): a data-subject export (a read of every table that names the person) and
 * a retention pass (retention.ts: its BEGIN IMMEDIATE batches, roll-ups moved in the same
 * transactions, waiting their turn behind ingest's). Posts `{ type: 'done', result }` or
 * `{ type: 'error', code, message }` (started by run-worker.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openServerDb } from '../db.js';
import { lowerThisThread } from './priority.js';
import { createPeople } from '../people.js';
import { pruneAll, type RetentionOptions } from '../retention.js';
import { createSubjects } from '../subjects.js';

export type StoreTask =
  | { kind: 'subject-export'; file: string; showNames: boolean; name: string }
  | { kind: 'retention'; file: string; opts: RetentionOptions; now?: number; batch?: number };

const task = workerData as StoreTask;
lowerThisThread();
let db: ReturnType<typeof openServerDb> | null = null;
try {
  db = openServerDb(task.file);
  const result = task.kind === 'subject-export'
    ? createSubjects(db, createPeople(db, { showNames: task.showNames })).exportSubject(task.name)
    : await pruneAll(db, task.opts, task.now, task.batch);
  parentPort!.postMessage({ type: 'done', result });
} catch (err) {
  const e = err as { code?: string; message?: string };
  parentPort!.postMessage({ type: 'error', code: e.code ?? 'error', message: e.message ?? String(err) });
} finally {
  db?.close();
}
