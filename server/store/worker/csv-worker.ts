/**
 * The violations CSV export off the server's event loop: a worker thread with its own
 * SQLite connection (WAL: it reads a consistent snapshot per page while the server goes
 * on writing) pages through the feed query (keyset pages of 500) and posts each page as
 * one text chunk. Backpressure: it sends a page only when it holds a credit, and the main
 * thread gives one back each time the HTTP reply has taken a page (server/api/csv-off-thread.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { lowerThisThread } from './priority.js';
import { csvLine } from '../../api/csv.js';
import { openDb } from '../db.js';
import { createPeople } from '../people.js';
import { createViolationStore, type Violation, type ViolationFilter } from '../violations.js';

export interface CsvJob {
  file: string;
  showNames: boolean;
  filter: ViolationFilter;
  columns: Array<keyof Violation>;
  appNames: Record<string, string>;
  maxRows: number;
  page: number;
}

const job = workerData as CsvJob;
lowerThisThread();
const db = openDb(job.file);
const people = createPeople(db, { showNames: job.showNames });
const store = createViolationStore(db, people);
let credits = 2;
let wake: (() => void) | null = null;
parentPort!.on('message', (m: { type: string }) => {
  if (m.type !== 'more') return;
  credits++;
  wake?.();
});
const row = (v: Violation) => job.columns.flatMap((c) => (c === 'app' ? [v.app, job.appNames[v.app] ?? v.app] : [v[c]]));

try {
  let cursor: { startedAt: number; seq: number } | undefined;
  let rows = 0;
  do {
    while (credits === 0) await new Promise<void>((r) => (wake = r));
    wake = null;
    const p = store.list(job.filter, Math.min(job.page, job.maxRows - rows), cursor);
    rows += p.items.length;
    cursor = p.next ?? undefined;
    credits--;
    parentPort!.postMessage({ type: 'chunk', text: p.items.map((v) => csvLine(row(v))).join('') });
  } while (cursor && rows < job.maxRows);
  parentPort!.postMessage({ type: 'done', rows });
} catch (err) {
  parentPort!.postMessage({ type: 'error', code: (err as { code?: string }).code ?? 'error' });
} finally {
  db.close();
}
