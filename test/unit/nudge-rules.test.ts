/** When to nudge: one per violation start, quiet period, hourly cap, reminders, modes, enforce timing. */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createNudgeRules, type RulesPolicy } from '../../agent/nudge/rules.js';
import { NudgeSettings } from '../../shared/policy.js';
import type { Event } from '../../shared/protocol.js';

const T0 = Date.UTC(2026, 10, 23, 9, 0, 0); // a Monday, 09:00 UTC
const MIN = 60_000;

function setup(overrides: Partial<Omit<RulesPolicy, 'nudge'>> & { nudge?: Partial<RulesPolicy['nudge']> } = {}) {
  let t = T0;
  const rules = createNudgeRules(() => new Date(t));
  const policy: RulesPolicy = {
    mode: 'nudge',
    approved: { name: 'Healthdirect Video Call', url: 'https://vcc.healthdirect.org.au/', apps: ['teams'], open: {} },
    timezone: 'UTC',
    consultHours: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '08:00', to: '18:00' }],
    closures: [],
    ...overrides,
    nudge: NudgeSettings.parse({ quietMinutes: 30, maxPerHour: 2, ...overrides.nudge }),
  };
  return { rules, policy, advance: (ms: number) => (t += ms) };
}

function ev(kind: Event['kind'], app = 'zoom', opts: { violationId?: string; user?: string; state?: Event['state'] } = {}): Event {
  return {
    id: randomUUID(), violationId: opts.violationId ?? randomUUID(), kind, app, state: opts.state ?? 'running', via: 'process',
    pids: [4120], evidence: [], at: new Date().toISOString(), user: opts.user ?? 'dr.lee',
  };
}

const kinds = (actions: Array<{ kind: string }>) => actions.map((a) => a.kind);

describe('nudge rules', () => {
  it('nudges once when a violation starts, never on its updates or end', () => {
    const { rules, policy, advance } = setup();
    const started = ev('started');
    expect(rules.onEvent(started, policy)).toEqual([expect.objectContaining({ kind: 'nudge', reminder: false, violation: expect.objectContaining({ app: 'zoom', user: 'dr.lee' }) })]);
    advance(MIN);
    expect(rules.onEvent({ ...started, id: randomUUID(), kind: 'updated', state: 'in-call' }, policy)).toEqual([]);
    expect(rules.onEvent({ ...started, id: randomUUID(), kind: 'ended' }, policy)).toEqual([]);
  });

  it('stays quiet for the same user and app within quietMinutes, then nudges again', () => {
    const { rules, policy, advance } = setup();
    expect(kinds(rules.onEvent(ev('started'), policy))).toEqual(['nudge']);
    advance(29 * MIN);
    const held = rules.onEvent(ev('started'), policy);
    expect(held).toEqual([expect.objectContaining({ kind: 'suppress', reason: expect.stringMatching(/^quiet period: .* 29 min ago/) })]);
    // Another user, or another app, is not inside that quiet period.
    expect(kinds(rules.onEvent(ev('started', 'zoom', { user: 'dr.kim' }), policy))).toEqual(['nudge']);
    expect(kinds(rules.onEvent(ev('started', 'whatsapp'), policy))).toEqual(['nudge']);
    advance(2 * MIN);
    expect(kinds(rules.onEvent(ev('started'), policy))).toEqual(['suppress']); // hourly cap now: 2 in the last hour
    advance(30 * MIN);
    expect(kinds(rules.onEvent(ev('started'), policy))).toEqual(['nudge']);
  });

  it('caps nudges per user per hour, across apps', () => {
    const { rules, policy, advance } = setup({ nudge: { maxPerHour: 2, quietMinutes: 0 } });
    expect(kinds(rules.onEvent(ev('started', 'zoom'), policy))).toEqual(['nudge']);
    expect(kinds(rules.onEvent(ev('started', 'whatsapp'), policy))).toEqual(['nudge']);
    const [capped] = rules.onEvent(ev('started', 'skype'), policy);
    expect(capped).toMatchObject({ kind: 'suppress', reason: expect.stringContaining('hourly cap') });
    advance(60 * MIN);
    expect(kinds(rules.onEvent(ev('started', 'skype'), policy))).toEqual(['nudge']);
  });

  it('gives back the quiet period and the cap when a nudge reached nobody', () => {
    const { rules, policy } = setup({ nudge: { maxPerHour: 1 } });
    const first = ev('started');
    rules.onEvent(first, policy);
    rules.failed(first.violationId);
    expect(kinds(rules.onEvent(ev('started'), policy))).toEqual(['nudge']);
  });

  it('reminds once after reminderMinutes, only while the call is live', () => {
    const { rules, policy, advance } = setup({ nudge: { reminderMinutes: 5 } });
    const started = ev('started');
    rules.onEvent(started, policy);
    expect(rules.nextDueAt(policy)).toBeNull(); // only running: no reminder pending
    advance(6 * MIN);
    expect(rules.due(policy)).toEqual([]);
    // The call goes live after the reminder time: the reminder is due at once.
    expect(rules.onEvent({ ...started, id: randomUUID(), kind: 'updated', state: 'in-call' }, policy)).toEqual([expect.objectContaining({ kind: 'nudge', reminder: true })]);
    advance(10 * MIN);
    expect(rules.due(policy)).toEqual([]);
  });

  it('schedules the reminder of a live call', () => {
    const { rules, policy, advance } = setup({ nudge: { reminderMinutes: 5 } });
    rules.onEvent(ev('started', 'zoom', { state: 'in-call' }), policy);
    expect(rules.nextDueAt(policy)).toBe(T0 + 5 * MIN);
    advance(5 * MIN - 1);
    expect(rules.due(policy)).toEqual([]);
    advance(1);
    expect(kinds(rules.due(policy))).toEqual(['nudge']);
    expect(rules.nextDueAt(policy)).toBeNull();
  });

  it('no reminder once the violation ended', () => {
    const { rules, policy, advance } = setup({ nudge: { reminderMinutes: 5 } });
    const started = ev('started', 'zoom', { state: 'in-call' });
    rules.onEvent(started, policy);
    rules.onEvent({ ...started, id: randomUUID(), kind: 'ended' }, policy);
    advance(10 * MIN);
    expect(rules.due(policy)).toEqual([]);
  });

  it('monitor mode never nudges and reports each start as suppressed', () => {
    const { rules, policy } = setup({ mode: 'monitor', nudge: { reminderMinutes: 1 } });
    expect(rules.onEvent(ev('started', 'zoom', { state: 'in-call' }), policy)).toEqual([expect.objectContaining({ kind: 'suppress', reason: expect.stringContaining('monitor mode') })]);
    expect(rules.nextDueAt(policy)).toBeNull();
  });

  it('does nothing outside consult hours or for approved apps', () => {
    const { rules, policy, advance } = setup();
    expect(rules.onEvent(ev('started', 'teams'), policy)).toEqual([]);
    advance(10 * 60 * MIN); // 19:00
    expect(rules.onEvent(ev('started'), policy)).toEqual([]);
  });

  it('does not nudge violations that were open before an agent restart', () => {
    const { rules, policy } = setup();
    expect(rules.onEvent(ev('updated', 'zoom', { state: 'in-call' }), policy)).toEqual([]);
  });

  it('enforce: closes the app enforceGraceSeconds after the nudge was shown, if still open', () => {
    const { rules, policy, advance } = setup({ mode: 'enforce', nudge: { enforceGraceSeconds: 60 } });
    const started = ev('started');
    rules.onEvent(started, policy);
    expect(rules.nextDueAt(policy)).toBeNull(); // not shown yet: no clock running
    advance(5000);
    rules.shown(started.violationId, policy);
    expect(rules.nextDueAt(policy)).toBe(T0 + 65_000);
    advance(59_999);
    expect(rules.due(policy)).toEqual([]);
    advance(1);
    expect(rules.due(policy)).toEqual([expect.objectContaining({ kind: 'close', violation: expect.objectContaining({ pids: [4120] }) })]);
    expect(rules.due(policy)).toEqual([]);
  });

  it('enforce: an app closed by the clinician in time is left alone; a nudge nobody saw never closes anything', () => {
    const { rules, policy, advance } = setup({ mode: 'enforce', nudge: { enforceGraceSeconds: 60 } });
    const a = ev('started');
    rules.onEvent(a, policy);
    rules.shown(a.violationId, policy);
    rules.onEvent({ ...a, id: randomUUID(), kind: 'ended' }, policy);
    const b = ev('started', 'whatsapp');
    rules.onEvent(b, policy);
    rules.failed(b.violationId);
    advance(10 * MIN);
    expect(rules.due(policy)).toEqual([]);
  });

  it('enforce: reopening the app within the quiet period after a shown nudge is closed after the grace period', () => {
    const { rules, policy, advance } = setup({ mode: 'enforce', nudge: { enforceGraceSeconds: 30 } });
    const a = ev('started');
    rules.onEvent(a, policy);
    rules.shown(a.violationId, policy);
    rules.onEvent({ ...a, id: randomUUID(), kind: 'ended' }, policy);
    advance(MIN);
    expect(kinds(rules.onEvent(ev('started'), policy))).toEqual(['suppress']);
    advance(30_000);
    expect(kinds(rules.due(policy))).toEqual(['close']);
  });

  it('a policy switched from enforce back to nudge closes nothing', () => {
    const { rules, policy, advance } = setup({ mode: 'enforce', nudge: { enforceGraceSeconds: 30 } });
    const a = ev('started');
    rules.onEvent(a, policy);
    rules.shown(a.violationId, policy);
    advance(MIN);
    expect(rules.due({ ...policy, mode: 'nudge' })).toEqual([]);
  });
});
