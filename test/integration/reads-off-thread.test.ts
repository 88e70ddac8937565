/**
 * The report reader (server/api/reads-off-thread.ts, server/store/worker/read-worker.ts):
 * trends with their exception counts and the filter lists, summed in a worker thread with
 * its own SQLite connection, answer exactly what the server's own connection answers after
 * a mixed history, see what is committed after them, and a reader that cannot start fails
 * its requests as `store_unavailable` instead of hanging them. Real SQLite file, real
 * worker (the built read-worker.js: `npm test` builds first). What it cannot show: that the
 * loop stays free; that is `server.ack_p99_ms_under_reports` in `npm run bench -- reports`.
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { createOffThreadReads, type OffThreadReads } from '../../server/api/reads-off-thread.js';
import { createStore, type SqliteStore } from '../../server/store/index.js';
import { ingestHistory } from '../support/rollup-history.js';
import { tempDir } from '../support/server.js';

const DAY = 86_400_000;
/** The nice value of each thread of this process (Linux /proc; field 19 of stat). */
const threadNices = () => readdirSync('/proc/self/task').map((t) => Number(readFileSync(`/proc/self/task/${t}/stat`, 'utf8').split(') ')[1]!.split(' ')[16]));
const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

function reader(file: string): OffThreadReads {
  const r = createOffThreadReads({ file, showNames: false });
  cleanup.push(() => r.close());
  return r;
}

describe('report reader off the event loop', () => {
  it('answers trends, exception counts and filter lists as the server connection does, and sees later commits', async () => {
    const dir = tempDir('cg-reads-');
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const now = Date.now();
    const store: SqliteStore = createStore(dir);
    cleanup.push(() => store.close());
    expect(store.rollups.prepare('Australia/Adelaide')).toBe('ready');
    await ingestHistory(store, { violations: 600, now: now - DAY, days: 200 });
    const reads = reader(store.db.name);

    // Ranges that end before now, so open violations count the same whenever they are summed.
    for (const [since, until] of [[now - 365 * DAY, now - DAY], [now - 30 * DAY, now - 2 * DAY - 4321], [now - 3 * DAY, now - DAY - 777]] as const) {
      const off = await reads.trends(since, until, 'Australia/Adelaide', true);
      expect(off.trends).toEqual(await store.violations.trends(since, until, 'Australia/Adelaide'));
      expect(off.exceptions).toEqual(await store.exceptions.counts(since, until));
      expect(off.trends.days.length).toBeGreaterThan(0);
    }
    expect((await reads.trends(now - 30 * DAY, now - DAY, 'Australia/Adelaide', false)).exceptions).toBeNull();
    const lists = await reads.filterValues();
    expect(lists).toEqual(await store.violations.filterValues());
    expect(lists.users.every((u) => !u.includes('dr.'))).toBe(true); // pseudonyms, not names

    // A violation committed by the server's connection after the reader started is counted.
    const before = (await reads.trends(now - 365 * DAY, now - DAY, 'Australia/Adelaide', false)).trends.nudges.violations;
    await ingestHistory(store, { violations: 40, now: now - 2 * DAY, days: 10, seed: 99 });
    const after = (await reads.trends(now - 365 * DAY, now - DAY, 'Australia/Adelaide', false)).trends.nudges.violations;
    expect(after).toBe((await store.violations.trends(now - 365 * DAY, now - DAY, 'Australia/Adelaide')).nudges.violations);
    expect(after).toBeGreaterThan(before);
  });

  it.runIf(process.platform === 'linux')('runs its sums at nice 19 on Linux, so the event loop keeps its priority (elsewhere the call would lower the whole server: not made)', async () => {
    const dir = tempDir('cg-reads-nice-');
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const store = createStore(dir);
    cleanup.push(() => store.close());
    expect(threadNices().filter((n) => n === 19)).toEqual([]);
    await reader(store.db.name).filterValues();
    expect(threadNices().filter((n) => n === 19)).toHaveLength(1);
    expect(threadNices()[0]).toBe(0); // the main thread (its task id is the pid, listed first)
  });

  it('fails what was asked as store_unavailable when the reader cannot run, and tries again at the next ask', async () => {
    const dir = tempDir('cg-reads-bad-');
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const reads = reader(`${dir}/no-such-folder/consultguard.db`);
    await expect(reads.filterValues()).rejects.toMatchObject({ code: 'store_unavailable', message: 'the report reader stopped; try again' });
    await expect(reads.trends(0, Date.now(), 'UTC', true)).rejects.toMatchObject({ code: 'store_unavailable' });
  });
});
