/**
 * The HTTP API's JSON responses (CONTRACTS section 4 plus additions), one zod schema each,
 * types from `z.infer`. The server's replies are checked against these in
 * test/integration/api-contract.test.ts; the dashboard (browser) imports the types only
 * (`import type`), so zod is not bundled into it.
 */
import * as z from 'zod';
import { CapabilityLevel } from './protocol.js';
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

/**
 * What `user` holds (docs/privacy.md): `pseudonym` (the default), `name` (the server shows
 * names: the clinic's decision), `hashed` (the workstation sent only a keyed hash: a
 * pseudonym that can never be revealed), `erased` (a data-subject request); null: no user.
 */
export const UserKind = z.enum(['pseudonym', 'name', 'hashed', 'erased']);
export type UserKind = z.infer<typeof UserKind>;
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
  /** A pseudonym such as `clinician-7f3a9c1d` unless the server shows names (see `userKind`). */
  user: z.string().nullable(),
  userKind: UserKind.nullable().optional(),
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
  // someone revealed the clinician's name (by, note = the reason; never the name)
  'name-revealed',
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

/** POST /api/violations/:agentId/:id/exception: the lead's decision on a clinician's claim. */
export const ExceptionDecisionBody = z.object({ decision: z.enum(['accept', 'reject']), note: z.string().max(2000).optional() });
export const ExceptionDecisionReply = z.object({ violation: Violation, exception: ViolationException.nullable() });
export type ExceptionDecisionReply = z.infer<typeof ExceptionDecisionReply>;

/** POST /api/violations/:agentId/:id/reveal: shown to the caller only; audited, in the timeline. */
export const RevealReply = z.object({ user: z.string(), pseudonym: z.string(), revealedAt: IsoTime, by: z.string(), reason: z.string() });
/** POST /api/violations/:agentId/:id/reveal body: why the name is needed (kept in the audit log). */
export const RevealBody = z.object({ reason: z.string().trim().min(3).max(500) });

/** GET /api/subjects/:name/export (admin): everything held about one clinician (store/subjects.ts). */
export const SubjectExport = z.object({
  v: z.literal(1),
  generatedAt: IsoTime,
  subject: z.object({ name: z.string(), pseudonym: z.string(), spellings: z.array(z.string()) }),
  violations: z.array(z.object({ agentId: z.string(), id: z.string(), hostname: z.string(), app: z.string(), state: z.string(), startedAt: IsoTime }).loose()),
  events: z.array(z.unknown()),
  nudges: z.array(z.unknown()),
  reviews: z.array(z.unknown()),
  reveals: z.array(z.unknown()),
  dashboardUser: z.object({ name: z.string(), role: z.string() }).loose().nullable(),
  audit: z.array(z.unknown()),
}).loose();
export type SubjectExport = z.infer<typeof SubjectExport>;

/** POST /api/subjects/:name/erase (admin): what was erased or anonymised, and what was kept and why. */
export const SubjectErased = z.object({
  subject: z.object({ pseudonym: z.string() }),
  erased: z.record(z.string(), z.number().int().nonnegative()),
  kept: z.array(z.string()),
});
export type SubjectErased = z.infer<typeof SubjectErased>;
export type RevealReply = z.infer<typeof RevealReply>;

/** POST /api/subjects/:name/erase (admin) and `subject erase NAME`. */
export const EraseReply = z.object({
  subject: z.object({ pseudonym: z.string() }),
  erased: z.record(z.string(), z.number().int()),
  kept: z.array(z.string()),
});
export type EraseReply = z.infer<typeof EraseReply>;

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
  /** Which evidence the agent's machine can see (from its heartbeat); null: an agent that does not report it. */
  capabilities: z.object({ processPaths: CapabilityLevel, processUsers: CapabilityLevel, tcpPeers: CapabilityLevel, udpPeers: CapabilityLevel, captureDevices: CapabilityLevel }).nullable(),
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

/** GET /api/session/options: the ways to sign in (the sign-in page shows a button per provider). */
export const SessionOptions = z.object({
  password: z.boolean(),
  sso: z.object({ name: z.string(), loginUrl: z.string() }).nullable(),
});
export type SessionOptions = z.infer<typeof SessionOptions>;

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
  /** The instance that answered (a random id per process start) and the machine it runs on. */
  instance: z.object({ id: z.string(), host: z.string(), startedAt: IsoTime }),
  /**
   * Every instance on this store heard from in the last 15 s, with the policy versions it
   * has loaded; `policyVersionsAgree` false (and `status` "degraded") when they differ,
   * `policyMismatch` saying which instance loads what.
   */
  cluster: z.object({
    instances: z.array(z.object({ id: z.string(), host: z.string(), policies: z.array(z.object({ name: z.string(), version: z.string() })), seenAt: IsoTime })),
    policyVersionsAgree: z.boolean(),
    policyMismatch: z.string().nullable(),
  }),
  /** Kept from v1 of this route: the pending bad policy edit, when there is one. */
  policyError: z.string().optional(),
  error: ErrorReply.shape.error.optional(),
});
export type Health = z.infer<typeof Health>;

// ---- Admin and policy routes (issue 16). Each is one reply; the OpenAPI document
// (server/api/openapi.ts, GET /api/openapi.json) is generated from these.

/** GET /api/enroll-secrets (admin) */
export const EnrollSecretInfo = z.object({ id: z.string(), site: z.string().nullable(), createdAt: IsoTime, revokedAt: IsoTime.nullable() });
export type EnrollSecretInfo = z.infer<typeof EnrollSecretInfo>;
/** `installerVersion`: the installers `npm run package` builds from this server's package, for the install lines. */
export const EnrollSecretList = z.object({ items: z.array(EnrollSecretInfo), installerVersion: z.string() });
export type EnrollSecretList = z.infer<typeof EnrollSecretList>;
/** POST /api/enroll-secrets (admin): the secret, shown this once. */
export const EnrollSecretCreated = z.object({ id: z.string(), site: z.string().nullable(), secret: z.string(), installerVersion: z.string() });
export type EnrollSecretCreated = z.infer<typeof EnrollSecretCreated>;

/** GET /api/tokens (admin): never the token itself. */
export const ApiTokenInfo = z.object({ id: z.string(), name: z.string().nullable(), role: Role, createdAt: IsoTime, revokedAt: IsoTime.nullable() });
export type ApiTokenInfo = z.infer<typeof ApiTokenInfo>;
export const ApiTokenList = z.object({ items: z.array(ApiTokenInfo) });
export type ApiTokenList = z.infer<typeof ApiTokenList>;
/** POST /api/tokens (admin): the token, shown this once. */
export const ApiTokenCreated = z.object({ id: z.string(), token: z.string() });
export type ApiTokenCreated = z.infer<typeof ApiTokenCreated>;

/** DELETE /api/enroll-secrets/:id, DELETE /api/tokens/:id */
export const Revoked = z.object({ id: z.string(), revoked: z.literal(true) });
export type Revoked = z.infer<typeof Revoked>;

/** GET /api/users (admin) */
export const UserInfo = z.object({ name: z.string(), role: Role, createdAt: IsoTime, disabledAt: IsoTime.nullable() });
export type UserInfo = z.infer<typeof UserInfo>;
export const UserList = z.object({ items: z.array(UserInfo) });
export type UserList = z.infer<typeof UserList>;
/** POST /api/users */
export const UserSaved = z.object({ name: z.string(), role: Role });
export const UserReset = z.object({ name: z.string(), reset: z.literal(true) });
export const UserDisabled = z.object({ name: z.string(), disabled: z.literal(true) });

/** POST /api/agents/:id/revoke | forget | assign (admin) */
export const AgentRevoked = z.object({ agentId: z.string(), revoked: z.literal(true) });
export const AgentForgotten = z.object({ agentId: z.string(), forgotten: z.literal(true) });
export const AgentAssigned = z.object({ agentId: z.string(), site: z.string().nullable(), group: z.string().nullable(), policy: z.object({ name: z.string(), version: z.string() }) });
export type AgentAssigned = z.infer<typeof AgentAssigned>;

/** GET /api/apps: the catalog's display names, so people read "WhatsApp", not "whatsapp". */
export const AppNames = z.object({ items: z.array(z.object({ id: z.string(), name: z.string(), vendor: z.string().nullable() })) });
export type AppNames = z.infer<typeof AppNames>;

export const ConsultWindowInfo = z.object({ days: z.array(z.enum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'])), from: z.string(), to: z.string() });
export const PolicyInfo = z.object({
  name: z.string(),
  version: z.string(),
  /** The file it came from, relative to the policies folder. */
  file: z.string(),
  description: z.string().nullable(),
  default: z.boolean(),
  assign: z.object({ sites: z.array(z.string()), groups: z.array(z.string()) }),
  timezone: z.string(),
  consultHours: z.array(ConsultWindowInfo),
  closures: z.array(z.string()),
  mode: z.enum(['monitor', 'nudge', 'enforce']),
  monitor: z.union([z.literal('all'), z.array(z.string())]),
  approved: z.object({ name: z.string(), url: z.string(), apps: z.array(z.string()) }),
});
export type PolicyInfo = z.infer<typeof PolicyInfo>;
/** The pending bad edit (the last good policies stay in force), split into file and line when the message names them. */
export const PolicyError = z.object({ message: z.string(), file: z.string().nullable(), line: z.number().int().nullable() });
export type PolicyError = z.infer<typeof PolicyError>;
export const PolicyAgent = z.object({
  agentId: z.string(),
  hostname: z.string(),
  site: z.string().nullable(),
  group: z.string().nullable(),
  /** The policy the server gives it now. */
  policy: z.object({ name: z.string(), version: z.string() }),
  /** The version the agent last reported running (null before its first heartbeat). */
  runningVersion: z.string().nullable(),
  current: z.boolean(),
});
export type PolicyAgent = z.infer<typeof PolicyAgent>;
/** GET /api/policies (lead, admin): policies stay files; this is the read-only view of them. */
export const PolicyOverview = z.object({ policies: z.array(PolicyInfo), error: PolicyError.nullable(), agents: z.array(PolicyAgent) });
export type PolicyOverview = z.infer<typeof PolicyOverview>;

// ---- Alert rules and report schedules (server/api/alerts.ts). The request schemas live
// here, not in server/, so the OpenAPI document can describe the bodies the server checks:
// server/alerts/rules.ts and server/reports/schedule.ts re-export them for the CLI.

/** What fires a rule (server/store/alerts.ts ALERT_EVENTS; rules.ts checks the two agree). */
export const ALERT_EVENT_NAMES = ['in-call', 'silent-agent', 'repeat', 'policy-error'] as const;
export const AlertEventName = z.enum(ALERT_EVENT_NAMES);
/** Where a rule sends (server/store/alerts.ts CHANNEL_KINDS). */
export const ALERT_CHANNEL_KINDS = ['webhook', 'teams', 'slack', 'email'] as const;
export const AlertChannelKind = z.enum(ALERT_CHANNEL_KINDS);
export type AlertChannelKind = z.infer<typeof AlertChannelKind>;

const HttpUrl = (what: string) => z.string().max(2000).refine((s) => {
  try {
    const u = new URL(s);
    return (u.protocol === 'https:' || u.protocol === 'http:') && u.hostname !== '';
  } catch {
    return false;
  }
}, { message: `expected an http(s) URL for ${what}, such as https://hooks.example.org/consultguard` });

const EMAIL_RE = /^[^\s@<>,;"]+@[^\s@<>,;"]+\.[^\s@<>,;"]+$/;
const Email = z.string().max(320).regex(EMAIL_RE, 'expected an email address such as it-security@clinic.example');

/** POST /api/alerts (admin) body; also `alert add` on the CLI. A webhook without `secret` gets a generated one. */
export const NewRule = z.object({
  on: z.enum(ALERT_EVENT_NAMES, { message: `expected one of ${ALERT_EVENT_NAMES.join(', ')}` }),
  threshold: z.number().int().min(2).max(1000).optional(),
  site: z.string().min(1).max(128).optional(),
  webhook: z.array(z.object({ url: HttpUrl('--webhook'), secret: z.string().min(16, 'a webhook secret needs at least 16 characters').max(512).optional() })).default([]),
  teams: z.array(HttpUrl('--teams')).default([]),
  slack: z.array(HttpUrl('--slack')).default([]),
  email: z.array(Email).default([]),
}).strict();
export type NewRule = z.infer<typeof NewRule>;

/** POST /api/reports (admin) body; also `report add` on the CLI. */
export const NewReport = z.object({
  every: z.enum(['weekly', 'monthly'], { message: 'expected weekly or monthly' }),
  site: z.string().min(1, 'expected the site name the agents report (--site)').max(128),
  email: z.array(z.string().max(320).regex(EMAIL_RE, 'expected an email address such as lead@clinic.example')).min(1, 'expected at least one --email ADDRESS').max(20),
}).strict();
export type NewReport = z.infer<typeof NewReport>;

/**
 * One channel of a rule as shown back: an email address whole, a webhook URL without its
 * query, a Slack or Teams URL (itself a credential) cut to host and last 4 characters.
 * `signed`: webhook only, whether deliveries carry an HMAC signature.
 */
export const AlertChannelView = z.object({ index: z.number().int().nonnegative(), kind: AlertChannelKind, target: z.string(), signed: z.boolean().optional() });
export type AlertChannelView = z.infer<typeof AlertChannelView>;
/** An alert rule as shown back: never a webhook secret. */
export const AlertRuleView = z.object({
  id: z.string(),
  on: AlertEventName,
  /** repeat rules: violations by one clinician within 7 days that fire it; null otherwise. */
  threshold: z.number().int().nullable(),
  /** null: every site. */
  site: z.string().nullable(),
  channels: z.array(AlertChannelView),
  createdAt: IsoTime,
  createdBy: z.string(),
});
export type AlertRuleView = z.infer<typeof AlertRuleView>;
/** GET /api/alerts (lead, admin) */
export const AlertRuleList = z.object({ items: z.array(AlertRuleView) });
export type AlertRuleList = z.infer<typeof AlertRuleList>;
/** POST /api/alerts (admin): the rule, with each webhook's signing secret shown this once (by channel index). */
export const AlertRuleCreated = AlertRuleView.extend({ secrets: z.array(z.object({ index: z.number().int().nonnegative(), secret: z.string() })) });
export type AlertRuleCreated = z.infer<typeof AlertRuleCreated>;
/** One channel's outcome of a test send; `error` an errno-style or HTTP-status code, never exception text. */
export const AlertTestChannel = z.object({ index: z.number().int().nonnegative(), kind: AlertChannelKind, target: z.string(), ok: z.boolean(), error: z.string().optional() });
export type AlertTestChannel = z.infer<typeof AlertTestChannel>;
/** POST /api/alerts/:id/test (admin): a test message on every channel now; `ok` when every channel took it. */
export const AlertTestReply = z.object({ id: z.string(), ok: z.boolean(), channels: z.array(AlertTestChannel) });
export type AlertTestReply = z.infer<typeof AlertTestReply>;

/** DELETE /api/alerts/:id, DELETE /api/reports/:id (admin) */
export const Removed = z.object({ id: z.string(), removed: z.literal(true) });
export type Removed = z.infer<typeof Removed>;

/** A report run's state: `sending` while claimed, `failed` until retried (error: its code). */
export const ReportRunState = z.enum(['sending', 'sent', 'failed']);
export type ReportRunState = z.infer<typeof ReportRunState>;
/** A report schedule with its newest run (null before the first). */
export const ReportScheduleView = z.object({
  id: z.string(),
  every: z.enum(['weekly', 'monthly']),
  site: z.string(),
  email: z.array(z.string()),
  createdAt: IsoTime,
  createdBy: z.string(),
  lastRun: z.object({ period: z.string(), state: ReportRunState, sentAt: IsoTime.nullable(), error: z.string().nullable() }).nullable(),
});
export type ReportScheduleView = z.infer<typeof ReportScheduleView>;
/** GET /api/reports (lead, admin); POST /api/reports answers one ReportScheduleView (201). */
export const ReportScheduleList = z.object({ items: z.array(ReportScheduleView) });
export type ReportScheduleList = z.infer<typeof ReportScheduleList>;
