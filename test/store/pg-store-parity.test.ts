/**
 * The rest of the PostgreSQL Store against the SQLite modules, operation by operation on a
 * real SQLite file and a real PostgreSQL database with the same pseudonym key: agents,
 * tokens, secrets, users and login limits, audit, reveals, exceptions, data-subject export
 * and erasure, retention, report figures, and transaction(fn) rolling back as a whole.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStore, type SqliteStore } from '../../server/store/index.js';
import { openPgStore } from '../../server/store/pg/index.js';
import { createPgDb } from '../../server/store/pg/db.js';
import { migratePg } from '../../server/store/pg/migrate.js';
import type { Store } from '../../server/store/types.js';
import type { Event, Hello, NudgeOutcome } from '../../shared/protocol.js';
import { tempDir } from '../support/server.js';
import { pgSkipReason, sharedPostgres } from '../support/postgres.js';

const skip = pgSkipReason();
if (skip) console.warn(skip);

const NOW = Date.parse('2026-11-23T18:00:00Z');
const DAY = 86_400_000;
let clock = NOW;
const now = () => clock;
const A1 = '00000000-0000-4000-8000-0000000000a1';
const A2 = '00000000-0000-4000-8000-0000000000a2';
const hello = (agentId: string, site?: string): Hello => ({ type: 'hello', protocol: 1, agentId, token: 'x', host: { hostname: `host-${agentId.slice(-2)}`, platform: 'win32', osVersion: '10', agentVersion: '1.0.0' }, ...(site ? { site } : {}) }) as Hello;
let n = 0;
const ev = (violationId: string, user: string, at: number, kind: Event['kind'] = 'started', evidence: string[] = []): Event => ({
  id: `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`, violationId, kind, app: 'zoom', state: 'in-call', via: 'process', user, pids: [1], evidence, at: new Date(at).toISOString(),
});
const vid = (i: number) => `00000000-0000-4000-8000-b${String(i).padStart(11, '0')}`;
const LEE = 'CLINIC\\dr.lee';
const KIM = 'CLINIC\\dr.kim';

describe.skipIf(skip !== null)('PostgreSQL store matches the SQLite modules', () => {
  let dir: string;
  let lite: SqliteStore;
  let pg: Store;

  beforeAll(async () => {
    dir = tempDir();
    lite = createStore(dir, now);
    const url = await (await sharedPostgres()).newDatabase();
    const db = createPgDb(url);
    await migratePg(db);
    await db.query('UPDATE privacy_key SET key = $1', [lite.db.prepare<[], { key: string }>('SELECT key FROM privacy_key').get()!.key]);
    await db.close();
    pg = await openPgStore({ url, dataDir: dir, now });
  });
  afterAll(async () => {
    await lite?.close();
    await pg?.close();
    rmSync(dir, { recursive: true, force: true });
    await (await sharedPostgres()).destroy();
  });

  /** Runs one operation on both stores and expects the same answer. */
  const both = async <T>(op: (s: any) => T | Promise<T>): Promise<T> => {
    const a = await op(lite);
    const b = await op(pg);
    expect(b).toEqual(a);
    return b;
  };

  it('agents: enrol once, reconnect, status, pinned sites, revoke, forget', async () => {
    const e = { tokenHash: 'h1', site: 'north', sitePinned: true, enrolledBy: 'config:ab' };
    await both((s) => s.agents.enrol(hello(A1, 'south'), e));
    await both((s) => s.agents.enrol(hello(A2), { ...e, tokenHash: 'h2', site: null, sitePinned: false }));
    await expect(pg.agents.enrol(hello(A1), { ...e, tokenHash: 'h3' })).rejects.toThrow();
    clock += 1000;
    await both((s) => s.agents.reconnect(hello(A1, 'east')));
    await both((s) => s.agents.reconnect(hello(A2, 'east')));
    await both((s) => s.agents.saveStatus(A1, { type: 'status', at: new Date(clock).toISOString(), monitoring: true, policyVersion: 'p1', health: { rssMb: 40 } } as never));
    await both((s) => s.agents.assign(A2, null, 'g'));
    await both((s) => s.agents.enrolledBy('config:ab'));
    await both((s) => s.agents.list());
    await both((s) => s.agents.revokeToken(A2));
    await both((s) => s.agents.tokenHash(A2));
    await both((s) => s.agents.get(A2));
    await both((s) => s.agents.forget(A2));
    await both((s) => s.agents.tokenHash(A2));
  });

  it('users: case-insensitive names, sessions, reset, disable, login limits', async () => {
    const t = 'correct horse battery staple';
    await lite.users.add('It.Lead', 'admin', t);
    await pg.users.add('It.Lead', 'admin', t);
    await both((s) => s.users.exists('it.lead'));
    await both((s) => s.users.get('IT.LEAD'));
    for (let i = 0; i < 5; i++) await both(async (s) => (await s.users.login('it.lead', 'wrong', '10.0.0.1')).reason);
    await both(async (s) => (await s.users.login('it.lead', t, '10.0.0.1')).reason); // locked for this address
    const ok = await pg.users.login('IT.lead', t, '10.0.0.2');
    expect(ok.ok).toBe(true);
    if (!ok.ok) return;
    expect(ok.user.name).toBe('It.Lead');
    expect(await pg.users.session(ok.sessionId)).toMatchObject({ name: 'It.Lead', role: 'admin' });
    expect(await pg.users.reset('it.lead', 'another long password')).toBe(true);
    expect(await pg.users.session(ok.sessionId)).toBeUndefined(); // a reset ends sessions
    expect(await pg.users.disable('IT.LEAD')).toBe(true);
    expect((await pg.users.login('it.lead', 'another long password', '10.0.0.2')).ok).toBe(false);
    await pg.users.add('it.lead', 'lead', t); // re-add in another case: one user, re-enabled
    expect((await pg.users.list()).map((u) => [u.name, u.role, u.disabled_at])).toEqual([['It.Lead', 'lead', null]]);
  });

  it('tokens and secrets: hashes only, revoke, list', async () => {
    const tok = await pg.apiTokens.create('lead', 'siem');
    expect(await pg.apiTokens.verify(tok.token)).toEqual({ id: tok.id, role: 'lead', name: 'siem' });
    expect(await pg.apiTokens.live(tok.id)).toBe(true);
    expect(await pg.apiTokens.revoke(tok.id)).toBe(true);
    expect(await pg.apiTokens.revoke(tok.id)).toBe(false);
    expect(await pg.apiTokens.verify(tok.token)).toBeUndefined();
    expect((await pg.apiTokens.list())[0]).toMatchObject({ id: tok.id, revoked_at: clock });
    const sec = await pg.secrets.create('north');
    expect(await pg.secrets.find(sec.secret)).toMatchObject({ id: sec.id, site: 'north' });
    expect(await pg.secrets.revoke(sec.id)).toBe(true);
    expect(await pg.secrets.find(sec.secret)).toBeUndefined();
  });

  it('violations, reveals, exceptions and data-subject export and erasure', async () => {
    const agent = { agentId: A1, hostname: 'host-a1', site: 'north' };
    const batch = [ev(vid(1), LEE, NOW - 3 * DAY, 'started', ['camera in use by C:\\Users\\dr.lee\\Zoom.exe']), ev(vid(1), LEE, NOW - 3 * DAY + 60_000, 'ended'), ev(vid(2), KIM, NOW - 2 * DAY), ev(vid(3), 'clinic\\DR.LEE', NOW - 40 * DAY)];
    await both((s) => s.violations.ingest(agent, batch));
    const nudge: NudgeOutcome = { id: '00000000-0000-4000-8000-0000000000c1', violationId: vid(2), app: 'zoom', user: KIM, outcome: 'exception', at: new Date(NOW - 2 * DAY).toISOString(), reason: 'emergency', until: new Date(NOW).toISOString(), detail: 'exception claimed: Emergency' } as NudgeOutcome;
    await both((s) => s.violations.ingestNudges(A1, [nudge]));
    await both((s) => s.exceptions.ingest(A1, [nudge]));
    await both((s) => s.exceptions.decide(A1, vid(2), 'accepted', 'lead', 'ok'));
    await both(async (s) => Object.fromEntries(await s.exceptions.forViolations([{ agentId: A1, id: vid(2) }, { agentId: A1, id: vid(1) }])));
    // The feed's page with its claims (one statement on PostgreSQL), whole and by cursor.
    const page = await both((s) => s.violations.feed({}, 2));
    expect(page.items.map((v: { exception: unknown }) => v.exception)).toEqual([expect.objectContaining({ decision: 'accepted', note: 'ok' }), null]);
    await both((s) => s.violations.feed({ user: 'erased' }, 5));
    await both((s) => s.violations.feed({ site: 'north' }, 2, page.next));
    await both((s) => s.exceptions.counts(NOW - 50 * DAY, NOW));
    await both((s) => s.reveals.reveal(A1, vid(1), 'lead', 'complaint 42'));
    await both((s) => s.reveals.reveal(A1, vid(9), 'lead', 'x'));
    await both((s) => s.violations.acknowledge(A1, vid(1), 'acknowledged', 'lead', 'spoke to dr.lee'));
    await lite.audit.record('lead', 'violations-search', { q: 'dr.lee' });
    await pg.audit.record('lead', 'violations-search', { q: 'dr.lee' });
    await both(async (s) => (await s.audit.list(10)).map(({ seq: _seq, ...r }: { seq: number }) => r));
    // Only the async interface has these two; SQLite's answers are read the way its engine reads them.
    expect(await pg.violations.countByUser('clinic\\dr.lee', NOW - 50 * DAY, NOW, null)).toBe(lite.db.prepare<[string, number, number], { n: number }>('SELECT count(*) AS n FROM violations WHERE user = ? COLLATE NOCASE AND started_at >= ? AND started_at <= ?').get('clinic\\dr.lee', NOW - 50 * DAY, NOW)!.n);
    expect(await pg.violations.countByUser(LEE, NOW - 50 * DAY, NOW, 'south')).toBe(0);
    expect(await pg.violations.storedUser(A1, vid(2))).toBe(KIM);
    const strip = (x: { generatedAt: string; audit: Array<{ seq: number }> }) => ({ ...x, generatedAt: '', audit: x.audit.map(({ seq: _seq, ...a }) => a) });
    await both(async (s) => strip(await s.subjects.exportSubject(LEE)));
    const erased = await pg.subjects.eraseSubject(LEE, 'cli:root', { ref: 'DSR-1' });
    const erasedLite = await lite.subjects.eraseSubject(LEE, 'cli:root', { ref: 'DSR-1' });
    expect(erased).toEqual(erasedLite);
    expect(erased.erased).toMatchObject({ violations: 2, events: 3 });
    expect((await pg.audit.list(1))[0]).toMatchObject({ action: 'subject-erase', detail: { ref: 'DSR-1', pseudonym: erased.subject.pseudonym } });
    await both(async (s) => strip(await s.subjects.exportSubject(LEE)));
    await both((s) => s.violations.list({}, 10));
  });

  it('report schedules claim a period once; figures match', async () => {
    const s = await pg.reports.add({ every: 'weekly', site: 'north', emails: ['a@example.org'], createdBy: 'lead' });
    expect(await pg.reports.claim(s.id, 'weekly:2026-W47', 60_000)).toBe(true);
    expect(await pg.reports.claim(s.id, 'weekly:2026-W47', 60_000)).toBe(false);
    await pg.reports.failed(s.id, 'weekly:2026-W47', 'ESMTP', NOW - 1);
    expect(await pg.reports.claim(s.id, 'weekly:2026-W47', 60_000)).toBe(true);
    await pg.reports.sent(s.id, 'weekly:2026-W47');
    expect(await pg.reports.lastRun(s.id)).toMatchObject({ state: 'sent', attempts: 2 });
    const f = await pg.reports.figures('north', NOW - 10 * DAY, NOW, NOW);
    const t = lite.db.prepare<[number, number], { n: number; incall: number }>("SELECT count(*) AS n, sum(CASE WHEN state = 'in-call' THEN coalesce(ended_at, ?) - started_at ELSE 0 END) / 60000.0 AS incall FROM violations WHERE site = 'north' AND started_at >= ?").get(NOW, NOW - 10 * DAY)!;
    expect(f).toMatchObject({ total: t.n, inCallMinutes: t.incall, byApp: [{ app: 'zoom', n: 2 }], hosts: [{ hostname: 'host-a1', n: 2 }] });
    expect(f.buckets.reduce((x, b) => x + b.n, 0)).toBe(2);
    expect(f).toEqual({ ...(await lite.reports.figures('north', NOW - 10 * DAY, NOW, NOW)), buckets: f.buckets });
    expect(await pg.reports.remove(s.id)).toBe(true);
  });

  it('transaction(fn): a change and its audit entry commit together or not at all', async () => {
    const before = (await pg.audit.list(100)).length;
    await expect(pg.transaction(async (tx) => {
      await tx.apiTokens.create('admin', 'doomed');
      await tx.audit.record('cli:root', 'token-create', { name: 'doomed' });
      throw new Error('changed my mind');
    })).rejects.toThrow('changed my mind');
    expect((await pg.apiTokens.list()).some((t) => t.name === 'doomed')).toBe(false);
    expect((await pg.audit.list(100)).length).toBe(before);
    await pg.transaction(async (tx) => {
      await tx.apiTokens.create('admin', 'kept');
      await tx.audit.record('cli:root', 'token-create', { name: 'kept' });
    });
    expect((await pg.apiTokens.list()).some((t) => t.name === 'kept')).toBe(true);
    expect((await pg.audit.list(1))[0]).toMatchObject({ action: 'token-create', detail: { name: 'kept' } });
  });

  it('retention deletes the same rows in batches', async () => {
    const opts = { days: 30, auditDays: 730 };
    const later = NOW + 60 * DAY; // every violation here is then ended or silent for over 30 days
    const a = await lite.retention.run(opts, later, 2);
    const b = await pg.retention.run(opts, later, 2);
    // The users test signed in on PostgreSQL more often than on SQLite: its login tables differ.
    const same = (p: typeof a) => ({ ...p, loginFailures: 0, loginKnown: 0, sessions: 0 });
    expect(same(b)).toEqual(same(a));
    expect(b).toMatchObject({ violations: 3, people: 1, loginKnown: 1 });
    expect(same(await pg.retention.run(opts, later, 2))).toEqual(same(await lite.retention.run(opts, later, 2)));
    expect((await pg.violations.list({}, 10)).items).toEqual([]);
  });

  it('backup is refused with the PostgreSQL tools to use', async () => {
    await expect(pg.backup('/tmp/x.db')).rejects.toMatchObject({ code: 'bad_option', message: expect.stringMatching(/pg_dump/) });
    expect(pg.location).toMatch(/^postgres:\/\/127\.0\.0\.1:\d+\/cg_/);
  });
});
