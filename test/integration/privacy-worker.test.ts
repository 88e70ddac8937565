/**
 * The subject export and the scheduled retention off the event loop on SQLite (issue 18):
 * on a real store file, each runs in a real worker thread with its own connection. The
 * export answers what the in-process export answers; the retention job deletes backdated
 * rows and leaves roll-ups equal to a recount; a failing pass reaches the job's log and
 * retry with a clear message, and the server's store goes on.
 */
import { rmSync } from 'node:fs';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createStore, type SqliteStore } from '../../server/store/index.js';
import { createPeople } from '../../server/store/people.js';
import { createSubjects } from '../../server/store/subjects.js';
import { startRetention } from '../../server/store/retention-job.js';
import { runStoreTask } from '../../server/store/worker/run-worker.js';
import { dumpRollups, ingestHistory, recount } from '../support/rollup-history.js';
import { tempDir } from '../support/server.js';

const DAY = 86_400_000;
const LEE = 'CLINIC\\dr.lee';

const open: SqliteStore[] = [];
const dirs: string[] = [];
const stops: Array<() => void> = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) stop();
  for (const s of open.splice(0)) await s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const newStore = () => {
  const dir = tempDir('cg-offloop-');
  dirs.push(dir);
  const store = createStore(dir);
  open.push(store);
  return store;
};
/** A pino logger whose lines land in `lines`, parsed. */
const capture = () => {
  const lines: Array<{ level: number; msg: string; err?: { message: string }; deleted?: Record<string, number> }> = [];
  return { lines, log: pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s)) }) };
};
/** True when the call let the event loop turn before it answered (a sync call answers first). */
async function turnsWhileRunning<T>(call: () => Promise<T>): Promise<{ value: T; turned: boolean }> {
  let turned = false;
  const p = call();
  setImmediate(() => (turned = true));
  return { value: await p, turned };
}

describe('subject export in a worker', () => {
  it('answers what the in-process export answers, for a subject with violations, claims, reviews and reveals', async () => {
    const store = newStore();
    const now = Date.now();
    const tz = 'Europe/Berlin';
    expect(store.rollups.prepare(tz)).toBe('ready');
    await ingestHistory(store, { violations: 200, now, days: 30, seed: 5 });
    const lee = store.db.prepare<[string], { agent_id: string; id: string }>('SELECT agent_id, id FROM violations WHERE user = ? ORDER BY seq LIMIT 1').get(LEE)!;
    await store.violations.acknowledge(lee.agent_id, lee.id, 'resolved', 'lead', 'talked to dr.lee');
    await store.reveals.reveal(lee.agent_id, lee.id, 'lead', 'HR case 7');

    const { value: off, turned } = await turnsWhileRunning(() => store.subjects.exportSubject(LEE));
    expect(turned).toBe(true);
    const here = createSubjects(store.db, createPeople(store.db)).exportSubject(LEE);
    expect(off.violations.length).toBeGreaterThan(5);
    expect(off.exceptions).not.toHaveLength(0);
    expect(off.reveals).toMatchObject([{ by: 'lead', reason: 'HR case 7' }]);
    expect(off.reviews).not.toHaveLength(0);
    expect({ ...off, generatedAt: '' }).toEqual({ ...here, generatedAt: '' });
  });

  it('runs in the store\'s own connection inside an admin transaction (its writes not committed yet)', async () => {
    const store = newStore();
    await ingestHistory(store, { violations: 40, now: Date.now(), days: 10, seed: 3 });
    const lee = store.db.prepare<[string], { agent_id: string; id: string }>('SELECT agent_id, id FROM violations WHERE user = ? LIMIT 1').get(LEE)!;
    const reveals = await store.transaction(async (tx) => {
      await tx.reveals.reveal(lee.agent_id, lee.id, 'lead', 'inside');
      return (await tx.subjects.exportSubject(LEE)).reveals;
    });
    expect(reveals).toMatchObject([{ reason: 'inside' }]);
  });
});

describe('retention job in a worker', () => {
  it("deletes backdated rows and keeps roll-ups equal to a recount, run by the server's job", async () => {
    const store = newStore();
    const tz = 'America/New_York';
    expect(store.rollups.prepare(tz)).toBe('ready');
    const now = Date.now();
    await ingestHistory(store, { violations: 1500, now, days: 800, seed: 9 });
    const cutoff = now - 365 * DAY;
    const old = () => store.db.prepare<[number], { n: number }>('SELECT count(*) AS n FROM violations WHERE ended_at < ?').get(cutoff)!.n;
    expect(old()).toBeGreaterThan(400);
    const { lines, log } = capture();
    stops.push(startRetention(store, { days: 365, auditDays: 730 }, log, '0 0 1 1 *', 0));
    await vi.waitFor(() => expect(lines.map((l) => l.msg)).toContain('retention: old rows deleted'), { timeout: 20_000, interval: 50 });
    expect(old()).toBe(0);
    expect(lines.find((l) => l.msg === 'retention: old rows deleted')!.deleted!.violations).toBeGreaterThan(400);
    expect(dumpRollups(store.db, now)).toEqual(recount(store.db, tz, now));
    // The store's own connection still serves.
    expect((await store.violations.list({}, 1)).items).toHaveLength(1);
  });

  it('sends a failing pass to the job\'s log and retry with what went wrong, and the store goes on', async () => {
    const store = newStore();
    // A table the pass needs is gone (a damaged store): SQLite's error, from the worker.
    store.db.exec('DROP TABLE login_known');
    const { lines, log } = capture();
    stops.push(startRetention(store, { days: 365, auditDays: 730 }, log, '0 0 1 1 *', 0));
    await vi.waitFor(() => expect(lines.map((l) => l.msg)).toContain('retention job failed; will retry'), { timeout: 10_000, interval: 50 });
    const line = lines.find((l) => l.msg === 'retention job failed; will retry')!;
    expect(line.level).toBe(50);
    expect(line.err!.message).toMatch(/^retention failed in its worker thread: SQLITE_ERROR \(no such table: login_known\)/);
    expect((await store.violations.list({}, 1)).items).toEqual([]);
  });

  it('rejects, naming the task, when the worker cannot open the store or is stopped', async () => {
    const dir = tempDir('cg-offloop-');
    dirs.push(dir);
    const bad = runStoreTask({ kind: 'retention', file: dir, opts: { days: 365, auditDays: 730 } });
    await expect(bad.result).rejects.toThrow(/^retention failed in its worker thread: store_unavailable \(cannot open the store at /);
    const store = newStore();
    const task = runStoreTask({ kind: 'subject-export', file: store.db.name, showNames: false, name: LEE });
    await task.stop();
    await expect(task.result).rejects.toThrow(/^subject-export failed in its worker thread: worker_exited/);
  });
});
