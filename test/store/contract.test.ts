/**
 * The store contract (server/store/types.ts), written once and run against every engine in
 * test/store/engines.ts: exactly-once ingest, the feed's order, cursor and filters, trends,
 * agents, tokens, users, secrets, audit, retention of backdated rows, subjects, exceptions,
 * the alert queue, transactions, the change feed and cluster jobs. Real engines only.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Store } from '../../server/store/types.js';
import type { Event, Hello, NudgeOutcome } from '../../shared/protocol.js';
import { engines, type EngineUnderTest } from './engines.js';

const NOW = Date.parse('2026-11-23T10:00:00Z');
const DAY = 86_400_000;
const iso = (ms: number) => new Date(ms).toISOString();

function event(violationId: string, at: number, over: Partial<Event> = {}): Event {
  return { id: randomUUID(), violationId, kind: 'started', app: 'zoom', state: 'running', via: 'process', user: 'CLINIC\\dr.lee', pids: [4120], evidence: ['process Zoom.exe'], at: iso(at), ...over };
}

function hello(agentId: string, over: Partial<Hello> = {}): Hello {
  return { type: 'hello', protocol: 1, agentId, host: { hostname: 'RM4', platform: 'win32', osVersion: '10', agentVersion: '0.1.0' }, ...over } as Hello;
}

describe.each(engines)('store contract: $name', (engine: EngineUnderTest) => {
  let store: Store | undefined;
  let clock = NOW;
  const open = async () => {
    clock = NOW;
    store = await engine.open(() => clock);
    return store;
  };
  afterEach(async () => {
    if (!store) return;
    await store.close();
    await engine.dispose(store);
    store = undefined;
  });

  it('stores each event once per agent; a resent batch counts as duplicates and changes nothing', async () => {
    const s = await open();
    const agent = { agentId: randomUUID(), hostname: 'RM4', site: 'north' };
    const v = randomUUID();
    const batch = [event(v, NOW - 60_000), event(v, NOW - 30_000, { kind: 'updated', state: 'in-call', evidence: ['udp 170.114.10.20:8801'] })];
    expect(await s.violations.ingest(agent, batch)).toMatchObject({ stored: 2, duplicates: 0, touched: [v] });
    expect(await s.violations.ingest(agent, batch)).toMatchObject({ stored: 0, duplicates: 2, touched: [] });
    // The same event id from another agent is another event.
    const other = { ...agent, agentId: randomUUID() };
    expect((await s.violations.ingest(other, batch.slice(0, 1))).stored).toBe(1);
    const got = await s.violations.get(agent.agentId, v);
    expect(got).toMatchObject({ state: 'in-call', site: 'north', startedAt: iso(NOW - 60_000), endedAt: null });
    expect(got!.evidence).toEqual(['process Zoom.exe', 'udp 170.114.10.20:8801']);
    // Pseudonymous by default: never the name.
    expect(got!.user).toMatch(/^clinician-[0-9a-f]{8}$/);
    expect(await s.violations.storedUser(agent.agentId, v)).toBe('CLINIC\\dr.lee');
    const detail = await s.violations.detail(agent.agentId, v);
    expect(detail!.timeline.map((t) => t.kind)).toEqual(['started', 'updated']);
  });

  it('pages the feed newest first with a keyset cursor, and filters by app, site, state, time, user and text', async () => {
    const s = await open();
    const a = { agentId: randomUUID(), hostname: 'RM4', site: 'north' };
    const b = { agentId: randomUUID(), hostname: 'RECEPTION', site: 'south' };
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      const id = randomUUID();
      ids.push(id);
      await s.violations.ingest(i % 2 ? b : a, [event(id, NOW - (10 - i) * 60_000, { app: i < 5 ? 'zoom' : 'whatsapp', state: i === 3 ? 'in-call' : 'running', user: i % 2 ? 'CLINIC\\dr.kim' : 'CLINIC\\dr.lee' })]);
    }
    const seen: string[] = [];
    let cursor: Awaited<ReturnType<Store['violations']['list']>>['next'] | undefined;
    do {
      const page = await s.violations.list({}, 3, cursor ?? undefined);
      seen.push(...page.items.map((v) => v.id));
      cursor = page.next;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());
    expect((await s.violations.list({ app: 'whatsapp' }, 10)).items.map((v) => v.id)).toEqual([ids[6], ids[5]]);
    expect((await s.violations.list({ site: 'south' }, 10)).items).toHaveLength(3);
    expect((await s.violations.list({ state: 'in-call' }, 10)).items.map((v) => v.id)).toEqual([ids[3]]);
    expect((await s.violations.list({ since: NOW - 5 * 60_000 }, 10)).items.map((v) => v.id)).toEqual([ids[6], ids[5]]);
    const kim = s.people.pseudonym('CLINIC\\dr.kim');
    expect((await s.violations.list({ user: kim }, 10)).items.map((v) => v.id)).toEqual([ids[5], ids[3], ids[1]]);
    expect((await s.violations.list({ q: 'RECEP' }, 10)).items).toHaveLength(3);
    // Free text never matches a hidden name.
    expect((await s.violations.list({ q: 'dr.kim' }, 10)).items).toHaveLength(0);
    expect(await s.people.namesOf(kim)).toEqual(['CLINIC\\dr.kim']);
    const values = await s.violations.filterValues();
    expect(values).toMatchObject({ apps: ['whatsapp', 'zoom'], sites: ['north', 'south'], hostnames: ['RECEPTION', 'RM4'] });
    expect(await s.violations.agentsWithId(ids[0]!)).toEqual([a.agentId]);
  });

  it('counts trends per local day and acknowledges one agent\'s violation', async () => {
    const s = await open();
    const agent = { agentId: randomUUID(), hostname: 'RM4', site: 'north' };
    const v1 = randomUUID();
    const v2 = randomUUID();
    await s.violations.ingest(agent, [event(v1, NOW - DAY), event(v2, NOW - 3600_000, { app: 'facetime' })]);
    const t = await s.violations.trends(NOW - 7 * DAY, NOW + 60_000, 'UTC');
    expect(t.days).toEqual([{ day: '2026-11-22', byApp: { zoom: 1 }, inCallMinutes: 0 }, { day: '2026-11-23', byApp: { facetime: 1 }, inCallMinutes: 0 }]);
    expect(t.topSites).toEqual([{ site: 'north', count: 2 }]);
    const acked = await s.violations.acknowledge(agent.agentId, v1, 'resolved', 'lead.a', 'spoke to them');
    expect(acked!.ack).toMatchObject({ status: 'resolved', by: 'lead.a', note: 'spoke to them' });
    expect(await s.violations.acknowledge(randomUUID(), v1, 'resolved', 'lead.a', '')).toBeNull();
    expect(await s.violations.countByUser('clinic\\DR.LEE', NOW - 7 * DAY, NOW, null)).toBe(2);
    expect(await s.violations.countByUser('CLINIC\\dr.lee', NOW - 7 * DAY, NOW, 'south')).toBe(0);
  });

  it('enrols, reconnects, revokes and forgets agents; tokens, secrets and users', async () => {
    const s = await open();
    const id = randomUUID();
    await s.agents.enrol(hello(id, { site: 'north' }), { tokenHash: 'hash-1', site: 'north', sitePinned: true, enrolledBy: 'config:x' });
    await expect(s.agents.enrol(hello(id), { tokenHash: 'hash-2', site: null, sitePinned: false, enrolledBy: 'config:x' })).rejects.toThrow();
    await s.agents.reconnect(hello(id, { site: 'elsewhere' }));
    expect(await s.agents.get(id)).toMatchObject({ site: 'north', site_pinned: 1, token_hash: 'hash-1' });
    expect(await s.agents.enrolledBy('config:x')).toBe(1);
    expect(await s.agents.revokeToken(id)).toBe(true);
    expect(await s.agents.tokenHash(id)).toBeNull();
    expect(await s.agents.forget(id)).toBe(true);
    expect(await s.agents.tokenHash(id)).toBeUndefined();

    const tok = await s.apiTokens.create('lead', 'siem');
    expect(await s.apiTokens.verify(tok.token)).toEqual({ id: tok.id, role: 'lead', name: 'siem' });
    expect(await s.apiTokens.revoke(tok.id)).toBe(true);
    expect(await s.apiTokens.verify(tok.token)).toBeUndefined();
    expect(await s.apiTokens.live(tok.id)).toBe(false);

    const sec = await s.secrets.create('south');
    expect(await s.secrets.find(sec.secret)).toMatchObject({ id: sec.id, site: 'south' });
    expect(await s.secrets.revoke(sec.id)).toBe(true);
    expect(await s.secrets.find(sec.secret)).toBeUndefined();

    await s.users.add('lead.a', 'lead', 'a long lead password');
    const login = await s.users.login('lead.a', 'a long lead password', '127.0.0.1');
    expect(login.ok).toBe(true);
    if (!login.ok) return;
    expect((await s.users.session(login.sessionId))?.name).toBe('lead.a');
    expect(await s.users.sessionLive(login.user.sessionKey)).toBe(true);
    expect((await s.users.login('lead.a', 'wrong password!', '127.0.0.1')).ok).toBe(false);
    expect(await s.users.disable('lead.a')).toBe(true);
    expect(await s.users.session(login.sessionId)).toBeUndefined();
  });

  it('keeps the audit newest first with paging, and an admin transaction commits or rolls back as one', async () => {
    const s = await open();
    for (let i = 0; i < 5; i++) await s.audit.record('cli:ops', `act-${i}`, { i });
    const first = await s.audit.list(2);
    expect(first.map((e) => e.action)).toEqual(['act-4', 'act-3']);
    expect((await s.audit.list(10, first[1]!.seq)).map((e) => e.action)).toEqual(['act-2', 'act-1', 'act-0']);
    await expect(s.transaction(async (tx) => {
      await tx.audit.record('cli:ops', 'never');
      throw new Error('changed my mind');
    })).rejects.toThrow('changed my mind');
    await s.transaction(async (tx) => tx.audit.record('cli:ops', 'kept'));
    expect((await s.audit.list(10)).map((e) => e.action)).not.toContain('never');
    expect((await s.audit.list(1))[0]!.action).toBe('kept');
  });

  it('retention deletes what ended before the window and keeps the rest', async () => {
    const s = await open();
    const agent = { agentId: randomUUID(), hostname: 'RM4', site: null };
    const old = randomUUID();
    const fresh = randomUUID();
    // Backdated through ingest itself: events of 400 days ago, received then.
    clock = NOW - 400 * DAY;
    await s.violations.ingest(agent, [event(old, NOW - 400 * DAY), event(old, NOW - 400 * DAY + 60_000, { kind: 'ended' })]);
    clock = NOW;
    await s.violations.ingest(agent, [event(fresh, NOW - DAY), event(fresh, NOW - DAY + 60_000, { kind: 'ended' })]);
    expect(await s.retention.run({ days: 365, auditDays: 730 }, NOW, 1)).toMatchObject({ violations: 1, events: 0 });
    expect(await s.violations.get(agent.agentId, old)).toBeNull();
    expect(await s.violations.get(agent.agentId, fresh)).not.toBeNull();
    expect(Object.values(await s.retention.run({ days: 365, auditDays: 730 }, NOW)).every((n) => n === 0)).toBe(true);
  });

  it('exports and erases a data subject in one audited step', async () => {
    const s = await open();
    const agent = { agentId: randomUUID(), hostname: 'RM4', site: null };
    const v = randomUUID();
    await s.violations.ingest(agent, [event(v, NOW - 60_000), event(randomUUID(), NOW - 50_000, { user: 'CLINIC\\dr.kim' })]);
    const data = await s.subjects.exportSubject('CLINIC\\dr.lee');
    expect(data.violations.map((x) => x.id)).toEqual([v]);
    expect(data.subject.pseudonym).toBe(s.people.pseudonym('CLINIC\\dr.lee'));
    const erased = await s.subjects.eraseSubject('clinic\\DR.LEE', 'cli:dpo', { reference: 'DSR-7' });
    expect(erased.erased).toMatchObject({ violations: 1, events: 1 });
    expect((await s.violations.get(agent.agentId, v))!.user).toBe('erased');
    expect((await s.subjects.exportSubject('CLINIC\\dr.lee')).violations).toEqual([]);
    const entry = (await s.audit.list(1))[0]!;
    expect(entry).toMatchObject({ actor: 'cli:dpo', action: 'subject-erase', detail: { reference: 'DSR-7', pseudonym: data.subject.pseudonym } });
    expect(JSON.stringify(entry)).not.toContain('dr.lee');
  });

  it('stores a clinician exception once, records the decision and counts it apart', async () => {
    const s = await open();
    const agent = { agentId: randomUUID(), hostname: 'RM4', site: null };
    const v1 = randomUUID();
    const v2 = randomUUID();
    await s.violations.ingest(agent, [event(v1, NOW - 60_000), event(v2, NOW - 50_000)]);
    const claim: NudgeOutcome = { id: randomUUID(), violationId: v1, app: 'zoom', user: 'h:ab', outcome: 'exception', at: iso(NOW - 40_000), reason: 'emergency', until: iso(NOW + 1800_000), detail: 'exception claimed: Emergency' };
    expect(await s.exceptions.ingest(agent.agentId, [claim])).toBe(1);
    expect(await s.exceptions.ingest(agent.agentId, [claim])).toBe(0); // resent batch
    expect(await s.violations.ingestNudges(agent.agentId, [claim])).toEqual({ stored: 1, touched: [v1] });
    expect(await s.violations.ingestNudges(agent.agentId, [claim])).toEqual({ stored: 0, touched: [] });
    expect(await s.exceptions.get(agent.agentId, v1)).toMatchObject({ reason: 'emergency', label: 'Emergency', decision: null });
    const since = NOW - DAY;
    expect(await s.exceptions.counts(since, NOW)).toEqual({ claimed: 1, accepted: 0, rejected: 0, pending: 1, unexplained: 1 });
    expect(await s.exceptions.decide(agent.agentId, v1, 'rejected', 'lead.a', 'the approved app worked')).toMatchObject({ decision: 'rejected', decidedBy: 'lead.a' });
    expect(await s.exceptions.decide(agent.agentId, v2, 'accepted', 'lead.a', '')).toBeNull();
    expect((await s.exceptions.forViolations([{ agentId: agent.agentId, id: v1 }, { agentId: agent.agentId, id: v2 }])).size).toBe(1);
    // The feed's page: the list's violations, each with its claim or null, paged the same way.
    const listed = (await s.violations.list({}, 10)).items;
    const claimed = await s.exceptions.get(agent.agentId, v1);
    expect(claimed).toMatchObject({ decision: 'rejected', note: 'the approved app worked', claimedAt: iso(NOW - 40_000), until: iso(NOW + 1800_000) });
    expect((await s.violations.feed({}, 10)).items).toEqual(listed.map((v) => ({ ...v, exception: v.id === v1 ? claimed : null })));
    const first = await s.violations.feed({}, 1);
    expect(first.items.map((v) => [v.id, v.exception])).toEqual([[v2, null]]);
    const second = await s.violations.feed({}, 1, first.next!);
    expect(second.items.map((v) => [v.id, v.exception])).toEqual([[v1, claimed]]);
    expect(second.next).toBeNull();
    expect((await s.violations.feed({ app: 'whatsapp' }, 10)).items).toEqual([]);
  });

  it('queues alerts: triggers settled once with their firings, once per window, leased deliveries', async () => {
    const s = await open();
    const rule = await s.alerts.addRule({ on: 'in-call', threshold: null, site: null, channels: [{ kind: 'webhook', target: 'http://127.0.0.1:9/hook' }, { kind: 'email', target: 'lead@clinic.example' }], createdBy: 'cli:ops' });
    expect((await s.alerts.rules()).map((r) => r.id)).toEqual([rule.id]);
    await s.alerts.addTriggers([{ ruleId: rule.id, agentId: 'a', violationId: 'v', subject: null, detail: null, at: NOW }]);
    const [t] = await s.alerts.peekTriggers(10);
    const firing = { rule, subject: 'violation:a/v', windowMs: Infinity, payload: { alertId: 'al-1', text: 'x' }, triggerSeq: t!.seq };
    expect(await s.alerts.settleTriggers([t!.seq], [firing])).toBe(1);
    // A second instance settling the same trigger: nothing left to take, nothing fired twice.
    expect(await s.alerts.settleTriggers([t!.seq], [firing])).toBe(0);
    expect(await s.alerts.peekTriggers(10)).toEqual([]);
    expect(await s.alerts.fire([{ ...firing, triggerSeq: undefined }])).toBe(0); // once ever
    expect((await s.alerts.counts()).queued).toBe(2);
    const leased = await s.alerts.claim(10, 60_000);
    expect(leased.map((d) => d.kind).sort()).toEqual(['email', 'webhook']);
    expect(await s.alerts.claim(10, 60_000)).toEqual([]); // leased meanwhile
    await s.alerts.delivered(leased[0]!.id);
    await s.alerts.attemptFailed(leased[1]!.id, 'TIMEOUT', null);
    expect(await s.alerts.counts()).toMatchObject({ queued: 0, delivered: 1, failed: 1 });
    expect(await s.alerts.removeRule(rule.id)).toBe(true);
    expect(await s.alerts.rule(rule.id)).toBeNull();
  });

  it('keeps report schedules and claims each period once', async () => {
    const s = await open();
    const r = await s.reports.add({ every: 'weekly', site: 'north', emails: ['lead@clinic.example'], createdBy: 'cli:ops' });
    expect(await s.reports.get(r.id)).toMatchObject({ site: 'north', emails: ['lead@clinic.example'] });
    expect(await s.reports.claim(r.id, '2026-W47', 60_000)).toBe(true);
    expect(await s.reports.claim(r.id, '2026-W47', 60_000)).toBe(false);
    await s.reports.sent(r.id, '2026-W47');
    expect(await s.reports.lastRun(r.id)).toMatchObject({ period: '2026-W47', state: 'sent', attempts: 1 });
    const agent = { agentId: randomUUID(), hostname: 'RM4', site: 'north' };
    await s.violations.ingest(agent, [event(randomUUID(), NOW - 3600_000)]);
    expect(await s.reports.figures('north', NOW - DAY, NOW, NOW)).toMatchObject({ total: 1, byApp: [{ app: 'zoom', n: 1 }], hosts: [{ hostname: 'RM4', n: 1 }] });
    expect(await s.reports.remove(r.id)).toBe(true);
  });

  it('tells subscribers of a change, runs cluster jobs, and answers its probe', async () => {
    const s = await open();
    const heard: Array<string | undefined> = [];
    const off = s.changes.subscribe('alerts', (p) => heard.push(p));
    await s.changes.notify('alerts', 'rule-1');
    await s.changes.notify('tokens', 'other-topic');
    await vi.waitFor(() => expect(heard).toContain('rule-1'), { timeout: 5000, interval: 20 });
    expect(heard).not.toContain('other-topic');
    off();
    let ran = 0;
    expect(await s.jobs.runExclusive('test-job', async () => void ran++)).toBe(true);
    expect(ran).toBe(1);
    await expect(s.probe()).resolves.toBeUndefined();
  });

  it('keeps agent presence per instance: online while any live instance holds the agent, gone with a stale or removed instance', async () => {
    const s = await open();
    const beat = (id: string) => s.instances.record({ instanceId: id, host: 'h', policyVersions: [], startedAt: clock });
    await beat('i1');
    await beat('i2');
    await beat('asker');
    await s.presence.update('i1', { held: ['x'], released: [] });
    // The same agent on two instances at once (its old link half-open during a failover).
    await s.presence.update('i2', { held: ['x', 'y', 'y'], released: [] });
    expect((await s.presence.elsewhere('asker', 60_000)).sort()).toEqual(['x', 'y']);
    expect(await s.presence.elsewhere('i2', 60_000)).toEqual(['x']); // never its own rows
    expect(await s.presence.count('i2')).toBe(2);
    // One link closes: still online through the other; then both.
    await s.presence.update('i2', { held: [], released: ['x'] });
    expect((await s.presence.elsewhere('asker', 60_000)).sort()).toEqual(['x', 'y']);
    await s.presence.update('i1', { held: ['z'], released: ['x'] });
    expect((await s.presence.elsewhere('asker', 60_000)).sort()).toEqual(['y', 'z']);
    // i2 goes quiet (killed): its agents stop counting once its row is older than the window.
    // PostgreSQL judges on its own clock, so real time passes as well as the test clock.
    await new Promise((r) => setTimeout(r, 300));
    clock += 300;
    await beat('i1');
    expect(await s.presence.elsewhere('asker', 200)).toEqual(['z']);
    // Its instance row pruned: its presence rows are deleted by the next reader.
    await s.instances.live(200);
    await s.presence.elsewhere('asker', 200);
    expect(await s.presence.count('i2')).toBe(0);
    // Rewritten whole (after a failed write, or on stop with []).
    await s.presence.replace('i1', ['a', 'b']);
    expect(await s.presence.count('i1')).toBe(2);
    expect((await s.presence.elsewhere('asker', 60_000)).sort()).toEqual(['a', 'b']);
    await s.presence.replace('i1', []);
    expect(await s.presence.elsewhere('asker', 60_000)).toEqual([]);
  });
});
