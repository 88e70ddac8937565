/**
 * The retention job (store `retention.run`, see retention.ts for what goes when): 5 s after
 * start and then on `--retention-schedule` (a node-cron expression in the server's local
 * time, every 6 hours by default), one run at a time, and once per cluster
 * (`jobs.runExclusive`: on PostgreSQL an advisory lock, so two instances never prune side by
 * side).
 */
import cron from 'node-cron';
import type { Logger } from '../../shared/log.js';
import type { RetentionOptions, Store } from './types.js';

export function startRetention(store: Pick<Store, 'retention' | 'jobs'>, opts: RetentionOptions, log: Logger, schedule = '17 */6 * * *', firstAfterMs = 5_000): () => void {
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
  const first = setTimeout(run, firstAfterMs);
  first.unref();
  // The config checked the expression (server/config.ts); unref: a schedule never keeps the process up.
  const task = cron.schedule(schedule, run, { name: 'retention', unref: true });
  return () => {
    stopped = true;
    clearTimeout(first);
    void task.destroy();
  };
}
