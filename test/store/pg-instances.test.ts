/**
 * PostgreSQL-only behaviour of several server instances on one database, each a real
 * openPgStore on a throwaway cluster: concurrent start, exactly-once ingest across
 * instances, the change feed between instances, cluster jobs once, the alert queue never
 * handing one delivery to two instances, and a database killed (pg_ctl stop -m immediate)
 * and restarted under a running store.
 */
import { afterAll, describe, expect, it, vi } from 'vitest';
import { isAppError } from '../../shared/errors.js';
import type { Event } from '../../shared/protocol.js';
import { openPgStore } from '../../server/store/pg/index.js';
import type { Store } from '../../server/store/types.js';
import { pgSkipReason, sharedPostgres } from '../support/postgres.js';

const skip = pgSkipReason();
if (skip) console.warn(skip);

const AGENT = { agentId: '00000000-0000-4000-8000-0000000000a1', hostname: 'rm4', site: 'north' };
let n = 0;
const event = (violationId: string, kind: Event['kind'] = 'started'): Event => ({
  id: `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`, violationId, kind, app: 'zoom', state: kind === 'updated' ? 'in-call' : 'running',
  via: 'process', pids: [1], evidence: [`line ${n}`], at: new Date(Date.parse('2026-11-23T09:00:00Z') + n * 1000).toISOString(), user: 'dr.lee',
});
const vid = (i: number) => `00000000-0000-4000-8000-b${String(i).padStart(11, '0')}`;

afterAll(async () => {
  if (!skip) await (await sharedPostgres()).destroy();
});

describe.skipIf(skip !== null)('PostgreSQL: several instances on one database', () => {
  const open: Store[] = [];
  const two = async (): Promise<[Store, Store]> => {
    const url = await (await sharedPostgres()).newDatabase();
    const [a, b] = await Promise.all([openPgStore({ url, dataDir: '/nonexistent' }), openPgStore({ url, dataDir: '/nonexistent' })]);
    open.push(a, b);
    return [a, b];
  };
  afterAll(async () => {
    await Promise.all(open.map((s) => s.close().catch(() => {})));
  });

  it('two instances starting together on an empty database both open, sharing one schema and one pseudonym key', async () => {
    const [a, b] = await two();
    expect(a.people.pseudonym('CLINIC\\dr.lee')).toMatch(/^clinician-[0-9a-f]{8}$/);
    expect(b.people.pseudonym('clinic\\DR.LEE')).toBe(a.people.pseudonym('CLINIC\\dr.lee'));
    await a.probe();
    await b.probe();
  });

  it('the same batch sent to both instances at once is stored once (one counts it as duplicates)', async () => {
    const [a, b] = await two();
    const batch = [event(vid(1)), event(vid(1), 'updated'), event(vid(2))];
    const [ra, rb] = await Promise.all([a.violations.ingest(AGENT, batch), b.violations.ingest(AGENT, batch)]);
    expect([ra.stored, rb.stored].sort()).toEqual([0, 3]);
    expect(ra.duplicates + rb.duplicates).toBe(3);
    const feed = await b.violations.list({}, 10);
    expect(feed.items.map((v) => v.id).sort()).toEqual([vid(1), vid(2)].sort());
    expect(feed.items.find((v) => v.id === vid(1))?.state).toBe('in-call');
  });

  it('a change notified on one instance reaches a subscriber on the other within a second', async () => {
    const [a, b] = await two();
    const heard: Array<string | undefined> = [];
    b.changes.subscribe('violations', (p) => heard.push(p));
    await (a.changes as unknown as { ready: Promise<void> }).ready;
    await (b.changes as unknown as { ready: Promise<void> }).ready;
    await a.violations.ingest(AGENT, [event(vid(3))]);
    const t0 = Date.now();
    await a.changes.notify('violations', JSON.stringify({ agentId: AGENT.agentId, touched: [vid(3)] }));
    // First the ingest's own announcement (sent inside its transaction), then the notify.
    await vi.waitFor(() => expect(heard).toEqual([JSON.stringify({ agentId: AGENT.agentId, ids: [vid(3)] }), JSON.stringify({ agentId: AGENT.agentId, touched: [vid(3)] })]), { timeout: 1000, interval: 10 });
    expect(Date.now() - t0).toBeLessThan(1000);
    // B sees the row A committed before notifying.
    expect((await b.violations.get(AGENT.agentId, vid(3)))?.id).toBe(vid(3));
    // The sender's own subscribers hear it once (not again through LISTEN).
    const own: Array<string | undefined> = [];
    a.changes.subscribe('tokens', (p) => own.push(p));
    await a.changes.notify('tokens', 'revoked');
    await new Promise((r) => setTimeout(r, 200));
    expect(own).toEqual(['revoked']);
  });

  it('a cluster job runs on one instance at a time; the other skips that round', async () => {
    const [a, b] = await two();
    let runs = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const job = async () => {
      runs++;
      await gate;
    };
    const first = a.jobs.runExclusive('retention', job);
    await vi.waitFor(() => expect(runs).toBe(1));
    expect(await b.jobs.runExclusive('retention', job)).toBe(false);
    expect(await a.jobs.runExclusive('retention', job)).toBe(false); // not re-entrant in one instance either
    expect(await b.jobs.runExclusive('reports', async () => {})).toBe(true); // other jobs are not held up
    release();
    expect(await first).toBe(true);
    expect(await b.jobs.runExclusive('retention', async () => {})).toBe(true);
    expect(runs).toBe(1);
  });

  it('two instances claiming the alert queue at once never get the same delivery', async () => {
    const [a, b] = await two();
    const rule = await a.alerts.addRule({ on: 'in-call', threshold: null, site: null, channels: [{ kind: 'webhook', target: 'http://127.0.0.1:9/a' }, { kind: 'webhook', target: 'http://127.0.0.1:9/b' }], createdBy: 'test' });
    const firings = Array.from({ length: 50 }, (_, i) => ({ rule, subject: `violation:x/${i}`, windowMs: Infinity, payload: { alertId: `al-${i}` } }));
    expect(await a.alerts.fire(firings)).toBe(50);
    expect(await b.alerts.fire(firings)).toBe(0); // once per subject, whichever instance fires
    const got: number[] = [];
    for (let round = 0; round < 10; round++) {
      const [x, y] = await Promise.all([a.alerts.claim(7, 60_000), b.alerts.claim(7, 60_000)]);
      got.push(...x.map((d) => d.id), ...y.map((d) => d.id));
    }
    expect(got.length).toBe(100);
    expect(new Set(got).size).toBe(100);
    expect((await a.alerts.counts()).queued).toBe(100);
  });

  it('triggers settled by two instances at once fire once', async () => {
    const [a, b] = await two();
    const rule = await a.alerts.addRule({ on: 'in-call', threshold: null, site: null, channels: [{ kind: 'webhook', target: 'http://127.0.0.1:9/a' }], createdBy: 'test' });
    await a.alerts.addTriggers([{ ruleId: rule.id, agentId: AGENT.agentId, violationId: vid(9), subject: null, detail: null, at: 1 }]);
    const [t] = await b.alerts.peekTriggers(10);
    const firing = { rule, subject: `violation:${AGENT.agentId}/${vid(9)}-${Math.random()}`, windowMs: Infinity, payload: { alertId: 'x' }, triggerSeq: t!.seq };
    // Distinct subjects, so only the trigger's deletion can stop the second firing.
    const [x, y] = await Promise.all([a.alerts.settleTriggers([t!.seq], [firing]), b.alerts.settleTriggers([t!.seq], [{ ...firing, subject: `${firing.subject}-b` }])]);
    expect(x + y).toBe(1);
    expect((await a.alerts.counts()).queued).toBe(1);
  });
});

describe.skipIf(skip !== null)('PostgreSQL: the database goes away and comes back', () => {
  it('refuses with store_unavailable naming what to check, then recovers without losing acked data', async () => {
    const cluster = await sharedPostgres();
    const url = await cluster.newDatabase();
    const store = await openPgStore({ url, dataDir: '/nonexistent' });
    const rereads: Array<string | undefined> = [];
    store.changes.subscribe('agents', (p) => rereads.push(p));
    try {
      const acked = await store.violations.ingest(AGENT, [event(vid(20)), event(vid(21))]);
      expect(acked.stored).toBe(2);
      await cluster.stop('immediate');
      const err = await store.violations.ingest(AGENT, [event(vid(22))]).then(() => null, (e: unknown) => e);
      expect(isAppError(err, 'store_unavailable')).toBe(true);
      const message = (err as Error).message;
      expect(message).toMatch(/PostgreSQL store at 127\.0\.0\.1:\d+\/cg_/);
      expect(message).toMatch(/check|restarting|reach/);
      expect(message).not.toMatch(/password=|:[A-Za-z0-9_-]{20,}@/); // never the password
      await expect(store.probe()).rejects.toMatchObject({ code: expect.any(String) });
      await cluster.start();
      // The pool reconnects on the next checkout; the change feed re-listens and every topic re-reads.
      await vi.waitFor(async () => expect((await store.violations.list({}, 10)).items.map((v) => v.id).sort()).toEqual([vid(20), vid(21)]), { timeout: 25_000, interval: 200 });
      await vi.waitFor(() => expect(rereads).toContain(undefined), { timeout: 25_000, interval: 100 });
      expect((await store.violations.ingest(AGENT, [event(vid(22))])).stored).toBe(1);
      await store.probe();
    } finally {
      await store.close();
    }
  }, 60_000);

  it('a store opened against a port nothing listens on says so by host and port', async () => {
    const err = await openPgStore({ url: 'postgres://cg:secret-pass@127.0.0.1:1/nowhere', dataDir: '/nonexistent' }).then(() => null, (e: unknown) => e);
    expect(isAppError(err, 'store_unavailable')).toBe(true);
    expect((err as Error).message).toMatch(/cannot reach the PostgreSQL store at 127\.0\.0\.1:1\/nowhere as cg \(ECONNREFUSED\); check the host and port/);
    expect((err as Error).message).not.toContain('secret-pass');
  });

  it('a wrong password is named as a login problem, without the password', async () => {
    const cluster = await sharedPostgres();
    const url = (await cluster.newDatabase()).replace(/:[^:@/]+@/, ':not-the-password@');
    const err = await openPgStore({ url, dataDir: '/nonexistent' }).then(() => null, (e: unknown) => e);
    expect(isAppError(err, 'store_unavailable')).toBe(true);
    expect((err as Error).message).toMatch(/refused the login; check the user and password/);
    expect((err as Error).message).not.toContain('not-the-password');
  });
});
