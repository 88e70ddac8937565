/**
 * The event loop during a retention pass (issue 18), on the reports bench's store after its
 * ack part (a copy: the passes delete rows): two passes of about a month of violations
 * each, one as the server's job runs it (`store.retention.run`: a worker thread with its own
 * connection) and, as the baseline, the next month in-process on the main thread (pruneAll,
 * as before: batches of 500 with a turn of the loop between). Measured in the same run:
 * the main thread's event-loop delay (perf_hooks.monitorEventLoopDelay, 1 ms resolution).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createStore } from '../../server/store/index.js';
import { pruneAll, type Pruned } from '../../server/store/retention.js';
import { round, type BenchResult } from './results.js';

async function delayed(pass: () => Promise<Pruned>): Promise<{ p99: number; max: number; sec: number; violations: number }> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  const t0 = performance.now();
  h.enable();
  const pruned = await pass();
  h.disable();
  return { p99: round(h.percentile(99) / 1e6), max: round(h.max / 1e6), sec: round((performance.now() - t0) / 1000, 1), violations: pruned.violations };
}

export async function retentionLoop(data: string, now: number): Promise<BenchResult> {
  const store = createStore(data, () => now);
  try {
    const keep = { auditDays: 36_500 };
    const worker = await delayed(() => store.retention.run({ days: 330, ...keep }, now));
    const main = await delayed(() => pruneAll(store.db, { days: 300, ...keep }, now));
    return {
      value: worker.p99, unit: 'ms', baseline: main.p99, ratio: round(worker.p99 / Math.max(main.p99, 0.01), 3),
      note: `main-thread event-loop delay p99 while a retention pass deleted the violations ended more than 330 days ago (${worker.violations.toLocaleString('en')}, with their events, nudges and roll-ups) in the store's worker thread as the server's job runs it (${worker.sec} s, loop delay max ${worker.max} ms); baseline: the next 30 days (${main.violations.toLocaleString('en')} violations) pruned in-process on the main thread as before (${main.sec} s, max ${main.max} ms); same run, same store copy (1M violations over 365 days); target: the worker's p99 near the loop's idle figure, well under the in-process one`,
    };
  } finally {
    await store.close();
  }
}
