/**
 * Year-long trends, their exception counts and the filter lists off the server's event
 * loop (issue 18): a long-lived worker thread with its own SQLite connection answers them
 * from the roll-ups (violations.ts `trends` and `filterValues`, exceptions.ts `counts`), so a
 * lead loading "last 12 months" again and again never delays an agent's ack. WAL: it reads
 * the last commit while the server goes on writing. Requests are answered one at a time,
 * in order, each with its request's id (server/api/reads-off-thread.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { lowerThisThread } from './priority.js';
import { openServerDb } from '../db.js';
import { createExceptionStore } from '../exceptions.js';
import { createPeople } from '../people.js';
import { createRollups } from '../rollups.js';
import { createViolationStore } from '../violations.js';

export interface ReadJob {
  file: string;
  showNames: boolean;
}
export type ReadAsk = { op: 'trends'; since: number; until: number; timezone: string; withExceptions: boolean } | { op: 'filterValues' };
export type ReadRequest = ReadAsk & { id: number };
export type ReadReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; code: string };

const job = workerData as ReadJob;
lowerThisThread();
const db = openServerDb(job.file);
const people = createPeople(db, { showNames: job.showNames });
const rollups = createRollups(db);
const violations = createViolationStore(db, people, Date.now, rollups);
const exceptions = createExceptionStore(db, Date.now, rollups);

parentPort!.on('message', (r: ReadRequest) => {
  let reply: ReadReply;
  try {
    const value = r.op === 'trends'
      ? { trends: violations.trends(r.since, r.until, r.timezone), exceptions: r.withExceptions ? exceptions.counts(r.since, r.until) : null }
      : violations.filterValues();
    reply = { id: r.id, ok: true, value };
  } catch (err) {
    // The code only (SQLITE_BUSY, SQLITE_CORRUPT...): the main thread maps it to a reply.
    reply = { id: r.id, ok: false, code: String((err as { code?: unknown }).code ?? 'error') };
  }
  parentPort!.postMessage(reply);
});
