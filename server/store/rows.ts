/**
 * Stored rows as readers see them, shared by both engines (SQLite and PostgreSQL store the
 * same columns): a violation row to the API's Violation, an exception row to its API shape,
 * and the pseudonymisation rules over a store's key. Pure: no database here.
 */
import { createHmac } from 'node:crypto';
import type { Violation, ViolationException } from '../../shared/api-types.js';
import type { NudgeOutcome } from '../../shared/protocol.js';
import { localTime } from '../../shared/hours.js';
import type { AppState, Via } from '../../shared/snapshot.js';
import { canonicalName, hideHomeFolders, isErased, isHashed, type ShownUser } from './people.js';

export interface ViolationRow {
  seq: number;
  id: string;
  agent_id: string;
  hostname: string;
  site: string | null;
  user: string | null;
  app: string;
  state: string;
  via: string;
  started_at: number;
  ended_at: number | null;
  evidence: string;
  nudge_shown_at: number | null;
  nudge_clicked_at: number | null;
  ack_status: string | null;
  ack_by: string | null;
  ack_at: number | null;
  ack_note: string | null;
}

/** A time for a data-subject export: ISO text, null stays null. */
export const isoOrNull = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** A stored JSON column for an export: parsed, or the raw text when it is not JSON. */
export function jsonOrText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** One violation row as a data-subject export lists it (both engines). */
/** The fields of a violation a subject export carries. */
export type ExportedViolation = Pick<ViolationRow, 'agent_id' | 'id' | 'hostname' | 'site' | 'user' | 'app' | 'state' | 'via' | 'started_at' | 'ended_at' | 'evidence' | 'ack_status' | 'ack_by' | 'ack_at' | 'ack_note'>;

export function violationExport(v: ExportedViolation) {
  return {
    agentId: v.agent_id, id: v.id, hostname: v.hostname, site: v.site, user: v.user, app: v.app, state: v.state, via: v.via,
    startedAt: isoOrNull(v.started_at), endedAt: isoOrNull(v.ended_at), evidence: jsonOrText(v.evidence),
    ack: v.ack_status ? { status: v.ack_status, by: v.ack_by, at: isoOrNull(v.ack_at), note: v.ack_note } : null,
  };
}

export interface Shower {
  show(user: string | null): ShownUser;
  showEvidence(line: string): string;
}

export function toViolation(r: ViolationRow, people: Shower, now: number): Violation {
  const end = r.ended_at ?? now;
  return {
    id: r.id, agentId: r.agent_id, hostname: r.hostname, site: r.site, ...people.show(r.user), app: r.app,
    state: r.state as AppState, via: r.via as Via,
    startedAt: new Date(r.started_at).toISOString(),
    endedAt: r.ended_at === null ? null : new Date(r.ended_at).toISOString(),
    durationSec: Math.max(0, Math.round((end - r.started_at) / 1000)),
    evidence: (JSON.parse(r.evidence) as string[]).map(people.showEvidence),
    nudged: r.nudge_shown_at !== null,
    nudgeClicked: r.nudge_clicked_at !== null,
    ack: r.ack_status === null
      ? null
      : { status: r.ack_status as 'acknowledged' | 'resolved', by: r.ack_by ?? '', at: new Date(r.ack_at ?? 0).toISOString(), note: r.ack_note ?? '' },
  };
}

export interface ExceptionRow {
  agent_id: string;
  violation_id: string;
  reason: string;
  label: string;
  claimed_at: number;
  until: number;
  decision: 'accepted' | 'rejected' | null;
  decided_by: string | null;
  decided_at: number | null;
  note: string;
}

const iso = (ms: number) => new Date(ms).toISOString();
export const exceptionToApi = (r: ExceptionRow): ViolationException => ({
  reason: r.reason, label: r.label, claimedAt: iso(r.claimed_at), until: iso(r.until),
  decision: r.decision, decidedBy: r.decided_by, decidedAt: r.decided_at === null ? null : iso(r.decided_at), note: r.note,
});

/** The reason's words the agent put in `detail` ("exception claimed: LABEL"), else the id. */
export const exceptionLabel = (n: NudgeOutcome) => n.detail?.replace(/^exception claimed:\s*/, '') || n.reason || 'no reason given';

/**
 * Pseudonyms over a store's key (`clinician-` + 8 hex of HMAC-SHA256 of the canonical name),
 * and what a reader is shown, as people.ts documents.
 */
export function pseudonymiser(keyHex: string, showNames: boolean) {
  const hmacKey = Buffer.from(keyHex, 'hex');
  const memo = new Map<string, string>();
  function pseudonym(name: string): string {
    let p = memo.get(name);
    if (p === undefined) {
      p = `clinician-${createHmac('sha256', hmacKey).update(canonicalName(name)).digest('hex').slice(0, 8)}`;
      if (memo.size > 50_000) memo.clear(); // bounded: a clinic has thousands of clinicians, not millions
      memo.set(name, p);
    }
    return p;
  }
  return {
    showNames,
    pseudonym,
    show(user: string | null): ShownUser {
      if (user === null) return { user: null, userKind: null };
      if (isErased(user)) return { user: 'erased', userKind: 'erased' };
      if (isHashed(user)) return { user: pseudonym(user), userKind: 'hashed' };
      return showNames ? { user, userKind: 'name' } : { user: pseudonym(user), userKind: 'pseudonym' };
    },
    showEvidence: (line: string): string => (showNames ? line : hideHomeFolders(line)),
  };
}

/** Whether a violation's stored user can be revealed, and under which pseudonym (reveals.ts). */
export function revealable(user: string | null | undefined, pseudonym: (name: string) => string):
  { ok: true; user: string; pseudonym: string } | { ok: false; why: 'not_found' | 'no_user' | 'hashed' | 'erased'; pseudonym: string | null } {
  if (user === undefined) return { ok: false, why: 'not_found', pseudonym: null };
  if (user === null) return { ok: false, why: 'no_user', pseudonym: null };
  if (isErased(user)) return { ok: false, why: 'erased', pseudonym: null };
  if (isHashed(user)) return { ok: false, why: 'hashed', pseudonym: pseudonym(user) };
  return { ok: true, user, pseudonym: pseudonym(user) };
}

/** Trend rows (15-minute buckets by app) folded into local days of `timezone` (both engines' trends). */
export function foldDays(rows: Array<{ bucket: number; app: string; n: number; incall: number }>, timezone: string, bucketMs: number) {
  const days = new Map<string, { day: string; byApp: Record<string, number>; inCallMinutes: number }>();
  for (const r of rows) {
    const day = localTime(timezone, new Date(r.bucket * bucketMs)).date;
    const d = days.get(day) ?? { day, byApp: {}, inCallMinutes: 0 };
    d.byApp[r.app] = (d.byApp[r.app] ?? 0) + r.n;
    d.inCallMinutes += r.incall;
    days.set(day, d);
  }
  for (const d of days.values()) d.inCallMinutes = Math.round(d.inCallMinutes * 10) / 10;
  return [...days.values()].sort((a, b) => a.day.localeCompare(b.day));
}

/** What a data-subject erasure keeps, and why (both engines' answer). */
export const erasureKept = (dash: { name: string; matchedBy: string } | null): string[] => [
  'violations (user replaced by "erased", name scrubbed from evidence and notes), so counts and trends stay true',
  'the audit log, which names clinicians by pseudonym only (accountability: who saw and did what)',
  ...(dash ? [`the dashboard login "${dash.name}" (${dash.matchedBy}): disable it with "user disable ${dash.name}" if they are leaving`] : []),
];
