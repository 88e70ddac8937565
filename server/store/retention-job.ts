/**
 * The retention job (store `retention.run`, see retention.ts for what goes when): 5 s after
 * start and every 6 hours, one run at a time, and once per cluster (`jobs.runExclusive`: on
 * PostgreSQL an advisory lock, so two instances never prune side by side).
 */
import type { Logger } from '../../shared/log.js';
import type { RetentionOptions, Store } from './types.js';

export function startRetention(store: Pick<Store, 'retention' | 'jobs'>, opts: RetentionOptions, log: Logger): () => void {
  let running = false;
  let stopped = false;
  const run = () => {
    if (running || stopped) return;
    running = true;
    store.jobs.runExclusive('retention', async () => {
      const pruned = await store.retention.run(opts);
      if (Object.values(pruned).some((n) => n > 0)) log.info({ deleted: pruned, days: opts.days, auditDays: opts.auditDays }, 'retention: old rows deleted');
    })
      .catch((err: unknown) => {
        // The store closed under it at shutdown is not a failure worth a log line.
        if (!stopped) log.error({ err }, 'retention job failed; will retry');
      })
      .finally(() => (running = false));
  };
  const first = setTimeout(run, 5_000);
  const timer = setInterval(run, 6 * 3600_000);
  first.unref();
  timer.unref();
  return () => {
    stopped = true;
    clearTimeout(first);
    clearInterval(timer);
  };
}
