/**
 * What an alert says, once, before any channel formats it. Built when the alert fires and
 * stored in the delivery row as is, so it holds the clinician's pseudonym only: the real
 * name is never in the queue, a webhook body, a card or a mail (CONTRACTS section 4).
 * Evidence lines are left out too: they can carry a user's home folder path.
 */
import { randomUUID } from 'node:crypto';
import type { AlertEvent } from '../store/alerts.js';

export interface AlertMessage {
  v: 1;
  type: 'alert' | 'test';
  /** One id per firing, the same on every channel and every retry: receivers dedupe by it. */
  alertId: string;
  rule: { id: string; on: AlertEvent };
  at: string;
  /** One line a person reads first (also the mail subject). */
  summary: string;
  violationId?: string;
  agentId?: string;
  app?: string;
  appName?: string;
  state?: string;
  via?: string;
  workstation?: string;
  site?: string | null;
  /** The clinician's pseudonym (stable per person), never the name. */
  clinician?: string | null;
  startedAt?: string;
  /** repeat: violations of this clinician in the last `windowDays` days. */
  count?: number;
  windowDays?: number;
  /** silent-agent: when the agent was last heard from. */
  lastSeen?: string | null;
  /** policy-error: the loader's FILE:LINE: field message (no personal data in it). */
  policyError?: string;
}

export interface ViolationFacts {
  id: string;
  agentId: string;
  hostname: string;
  site: string | null;
  app: string;
  state: string;
  via: string;
  startedAt: string;
}

const base = (ruleId: string, on: AlertEvent, summary: string, at: number): AlertMessage => ({
  v: 1, type: 'alert', alertId: randomUUID(), rule: { id: ruleId, on }, at: new Date(at).toISOString(), summary,
});

const violationFields = (v: ViolationFacts, appName: string, clinician: string | null) => ({
  violationId: v.id, agentId: v.agentId, app: v.app, appName, state: v.state, via: v.via,
  workstation: v.hostname, site: v.site, clinician, startedAt: v.startedAt,
});

export function inCallMessage(ruleId: string, v: ViolationFacts, appName: string, clinician: string | null, at: number): AlertMessage {
  const who = clinician ? ` by ${clinician}` : '';
  return { ...base(ruleId, 'in-call', `${appName} call on ${v.hostname}${v.site ? ` (${v.site})` : ''}${who} during consult hours`, at), ...violationFields(v, appName, clinician) };
}

export function repeatMessage(ruleId: string, v: ViolationFacts, appName: string, clinician: string, count: number, at: number): AlertMessage {
  return {
    ...base(ruleId, 'repeat', `${clinician} used consumer video apps ${count} times in 7 days (latest: ${appName} on ${v.hostname})`, at),
    ...violationFields(v, appName, clinician), count, windowDays: 7,
  };
}

export function silentMessage(ruleId: string, agent: { agentId: string; hostname: string; site: string | null; lastSeen: string | null }, at: number): AlertMessage {
  return {
    ...base(ruleId, 'silent-agent', `Agent on ${agent.hostname}${agent.site ? ` (${agent.site})` : ''} is silent during consult hours`, at),
    agentId: agent.agentId, workstation: agent.hostname, site: agent.site, lastSeen: agent.lastSeen,
  };
}

export function policyErrorMessage(ruleId: string, error: string, at: number): AlertMessage {
  return { ...base(ruleId, 'policy-error', 'A policy edit was refused; the last good policy stays in force', at), policyError: error };
}

export function testMessage(ruleId: string, on: AlertEvent, at: number): AlertMessage {
  return { ...base(ruleId, on, `Test alert from ConsultGuard for rule ${ruleId} (${on}): this channel works`, at), type: 'test' };
}

/** The facts as label/value pairs, in reading order (cards, Slack fields, mail). */
export function facts(m: AlertMessage): Array<[string, string]> {
  const rows: Array<[string, string | null | undefined]> = [
    ['App', m.appName && m.app ? `${m.appName} (${m.app})` : m.app],
    ['State', m.state],
    ['Workstation', m.workstation],
    ['Site', m.site ?? undefined],
    ['Clinician (pseudonym)', m.clinician ?? undefined],
    ['Started', m.startedAt],
    ['Violations in 7 days', m.count === undefined ? undefined : String(m.count)],
    ['Last seen', m.lastSeen === undefined ? undefined : (m.lastSeen ?? 'never')],
    ['Policy error', m.policyError],
    ['Violation id', m.violationId],
    ['Rule', `${m.rule.id} (${m.rule.on})`],
  ];
  return rows.filter((r): r is [string, string] => typeof r[1] === 'string' && r[1] !== '');
}
