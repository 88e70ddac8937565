/**
 * When retention runs: `--retention-schedule` is a node-cron expression, checked when the
 * options are read (a wrong one names itself and an example), and the job runs on it against
 * a real SQLite store, one run at a time, and not after it is stopped. Same on every OS
 * (node-cron reads the server's local time; the README says so).
 */
import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ServerConfig } from '../../server/config.js';
import { createStore } from '../../server/store/index.js';
import { startRetention } from '../../server/store/retention-job.js';
import type { RetentionOptions, Store } from '../../server/store/types.js';
import { silentLogger } from '../../shared/log.js';
import { tempDir } from '../support/server.js';

const cleanup: (() => void)[] = [];
afterEach(() => {
  while (cleanup.length) cleanup.pop()!();
});

describe('retention schedule', () => {
  it('defaults to every 6 hours and refuses what is not a cron expression, by name', () => {
    expect(ServerConfig.parse({}).retentionSchedule).toBe('17 */6 * * *');
    expect(ServerConfig.parse({ retentionSchedule: ' 30 2 * * * ' }).retentionSchedule).toBe('30 2 * * *');
    for (const bad of ['every night', '61 2 * * *', '* * *', '']) {
      const r = ServerConfig.safeParse({ retentionSchedule: bad });
      expect(r.success).toBe(false);
      expect(r.error!.issues[0]!.message).toMatch(/expected a cron expression such as '17 \*\/6 \* \* \*'/);
    }
  });

  it('runs on its schedule against the store, and stops when told', async () => {
    const dir = tempDir('cg-retention-');
    const store = createStore(dir);
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    cleanup.push(() => void store.close());
    const runs: RetentionOptions[] = [];
    const counted: Pick<Store, 'retention' | 'jobs'> = {
      jobs: store.jobs,
      retention: { ...store.retention, run: (o: RetentionOptions) => (runs.push(o), store.retention.run(o)) },
    };
    // Every second (node-cron's optional seconds field); the start-up run is put off past the test.
    const stop = startRetention(counted, { days: 365, auditDays: 730 }, silentLogger(), '* * * * * *', 3_600_000);
    cleanup.push(stop);
    await vi.waitFor(() => expect(runs.length).toBeGreaterThanOrEqual(2), { timeout: 6000, interval: 100 });
    expect(runs[0]).toEqual({ days: 365, auditDays: 730 });
    stop();
    const after = runs.length;
    await new Promise((r) => setTimeout(r, 1500));
    expect(runs.length).toBe(after);
  });
});
