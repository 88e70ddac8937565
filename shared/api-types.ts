/**
 * The HTTP API's JSON responses (CONTRACTS section 4 plus additions), one zod schema each,
 * types from `z.infer`. The server's replies are checked against these in
 * test/integration/api-contract.test.ts; the dashboard (browser) imports the types only
 * (`import type`), so zod is not bundled into it.
 */
import { z } from 'zod';
import { AppState, Via } from './snapshot.js';

const IsoTime = z.iso.datetime({ offset: true });

export const ApiAppState = AppState;
export type ApiAppState = z.infer<typeof ApiAppState>;
export const AckStatus = z.enum(['acknowledged', 'resolved']);
export type AckStatus = z.infer<typeof AckStatus>;
export const Role = z.enum(['lead', 'admin']);
export type Role = z.infer<typeof Role>;

/** `{ error: { code, message } }`: the one error shape (codes in shared/errors.ts). */
export const ErrorReply = z.object({ error: z.object({ code: z.string(), message: z.string() }).strict() }).strict();
export type ErrorReply = z.infer<typeof ErrorReply>;

export const Ack = z.object({ status: AckStatus, by: z.string(), at: IsoTime, note: z.string() });
export type Ack = z.infer<typeof Ack>;

/** A clinician's exception claimed for a violation (issue 14), and the lead's decision on it. */
export const ViolationException = z.object({
  reason: z.string(),
  label: z.string(),
  claimedAt: IsoTime,
  until: IsoTime,
  decision: z.enum(['accepted', 'rejected']).nullable(),
  decidedBy: z.string().nullable(),
  decidedAt: IsoTime.nullable(),
  note: z.string(),
});
export type ViolationException = z.infer<typeof ViolationException>;

export const Violation = z.object({
  id: z.string(),
  agentId: z.string(),
  hostname: z.string(),
  site: z.string().nullable(),
  user: z.string().nullable(),
  app: z.string(),
  state: ApiAppState,
  via: Via,
  startedAt: IsoTime,
  endedAt: IsoTime.nullable(),
  durationSec: z.number().nonnegative(),
  evidence: z.array(z.string()),
  /** Whether the clinician was shown a nudge for it, and opened the approved app from it. */
  nudged: z.boolean(),
  nudgeClicked: z.boolean(),
  ack: Ack.nullable(),
  /** "exception claimed: reason" (additive): present only when the clinician claimed one. */
  exception: ViolationException.nullable().optional(),
});
export type Violation = z.infer<typeof Violation>;

export const TimelineKind = z.enum([
  'started', 'updated', 'ended',
  'nudge-shown', 'nudge-clicked', 'nudge-dismissed', 'nudge-suppressed', 'app-closed', 'nudge-failed',
  'acknowledged', 'resolved',
  'exception-claimed',
]);
export type TimelineKind = z.infer<typeof TimelineKind>;

export const TimelineEntry = z.object({
  at: IsoTime,
  kind: TimelineKind,
  state: ApiAppState.optional(),
  evidence: z.array(z.string()).optional(),
  by: z.string().optional(),
  note: z.string().optional(),
});
export type TimelineEntry = z.infer<typeof TimelineEntry>;

/** GET /api/violations */
export const ViolationPage = z.object({ items: z.array(Violation), next: z.string().nullable() });
export type ViolationPage = z.infer<typeof ViolationPage>;

/** GET /api/violations/:id */
export const ViolationDetail = z.object({ violation: Violation, timeline: z.array(TimelineEntry) });
export type ViolationDetail = z.infer<typeof ViolationDetail>;

/** POST /api/violations/:id/ack */
export const AckReply = z.object({ violation: Violation });
export type AckReply = z.infer<typeof AckReply>;

export const TrendDay = z.object({ day: z.iso.date(), byApp: z.record(z.string(), z.number().int()), inCallMinutes: z.number() });
export type TrendDay = z.infer<typeof TrendDay>;

/** GET /api/trends: a violation without a site counts under "(no site)", so `site` is never null. */
export const Trends = z.object({
  days: z.array(TrendDay),
  timezone: z.string(),
  topSites: z.array(z.object({ site: z.string(), count: z.number().int() })),
  topWorkstations: z.array(z.object({ hostname: z.string(), count: z.number().int() })),
  nudges: z.object({ violations: z.number().int(), shown: z.number().int(), clicked: z.number().int() }),
  /** Violations with a claimed exception (by the lead's decision) apart from unexplained use (additive). */
  exceptions: z.object({ claimed: z.number().int(), accepted: z.number().int(), rejected: z.number().int(), pending: z.number().int(), unexplained: z.number().int() }).optional(),
});
export type Trends = z.infer<typeof Trends>;

/** GET /api/filters */
export const FilterValues = z.object({ apps: z.array(z.string()), sites: z.array(z.string()), hostnames: z.array(z.string()), users: z.array(z.string()) });
export type FilterValues = z.infer<typeof FilterValues>;

export const Agent = z.object({
  agentId: z.string(),
  hostname: z.string(),
  platform: z.string(),
  site: z.string().nullable(),
  group: z.string().nullable(),
  agentVersion: z.string().nullable(),
  policyVersion: z.string().nullable(),
  online: z.boolean(),
  lastSeen: IsoTime.nullable(),
  monitoring: z.boolean().nullable(),
  silent: z.boolean(),
  revoked: z.boolean(),
  /** The agent's own health figures from its last heartbeat (CONTRACTS section 3 `status`). */
  health: z.record(z.string(), z.unknown()).nullable(),
  /** Approved-app readiness from the agent's last status (issue 14, additive). */
  approvedApp: z.object({ ready: z.boolean(), checkedAt: z.string(), problem: z.string().nullable() }).nullable().optional(),
});
export type Agent = z.infer<typeof Agent>;

/** GET /api/agents */
export const AgentList = z.object({ items: z.array(Agent) });
export type AgentList = z.infer<typeof AgentList>;

export const AuditEntry = z.object({ seq: z.number().int(), at: IsoTime, actor: z.string(), action: z.string(), detail: z.record(z.string(), z.unknown()) });
export type AuditEntry = z.infer<typeof AuditEntry>;

/** GET /api/audit (admin) */
export const AuditList = z.object({ items: z.array(AuditEntry) });
export type AuditList = z.infer<typeof AuditList>;

/** POST and GET /api/session */
export const SessionReply = z.object({ user: z.object({ name: z.string(), role: Role }), csrfToken: z.string() });
export type SessionReply = z.infer<typeof SessionReply>;

/** One part of the server that can fail and recover (see server/health/streak.ts). */
export const ComponentHealth = z.object({
  state: z.enum(['ok', 'failing', 'connecting']),
  since: IsoTime.nullable(),
  failures: z.number().int().nonnegative(),
  streaks: z.number().int().nonnegative(),
  /** An errno-style code (ECONNREFUSED, SQLITE_CORRUPT...), never exception text. */
  lastError: z.string().nullable(),
});
export type ComponentHealth = z.infer<typeof ComponentHealth>;

/**
 * GET /healthz: 200 while the store is usable (`ok: true`; `status` "degraded" when a
 * part is failing but the server still stores events), 503 with `error.code`
 * "store_unavailable" when it is not.
 */
export const Health = z.object({
  ok: z.boolean(),
  status: z.enum(['ok', 'degraded', 'down']),
  store: ComponentHealth.extend({ problem: z.string().nullable() }),
  policy: z.object({
    policies: z.array(z.object({ name: z.string(), version: z.string() })),
    error: z.string().nullable(),
    watch: ComponentHealth,
  }),
  forward: z.object({
    file: ComponentHealth.extend({ path: z.string() }).optional(),
    syslog: ComponentHealth.extend({ target: z.string(), queued: z.number().int().optional(), dropped: z.number().int().optional() }).optional(),
  }),
  /** More parts (the alert queue, ...) as they are added: each one ComponentHealth. */
  components: z.record(z.string(), ComponentHealth.loose()),
  agentsOnline: z.number().int().nonnegative(),
  /** Kept from v1 of this route: the pending bad policy edit, when there is one. */
  policyError: z.string().optional(),
  error: ErrorReply.shape.error.optional(),
});
export type Health = z.infer<typeof Health>;
