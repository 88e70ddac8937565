/**
 * The store, engine-neutral (issue 15): what the server, its commands and the tests rely
 * on, whichever engine holds the data. Every method answers a Promise (PostgreSQL is
 * asynchronous); nothing here names a database handle. Two engines implement it:
 * `sqlite.ts` (embedded, the default: a thin async adapter over the synchronous modules in
 * this folder) and `pg/index.ts` (PostgreSQL, `--database postgres://...`).
 *
 * Rules every engine keeps:
 * - Exactly once: an event is stored once per (agent id, event id); a resent one counts as a
 *   duplicate. `violations.ingest` resolves only after the batch is committed (the gateway
 *   acks then, never before).
 * - The feed: newest first by (startedAt, seq), keyset cursor, the same filters.
 * - Clinicians are shown by pseudonym unless the server shows names (`people`).
 * - Times are epoch milliseconds in and out of the store, ISO text in API views.
 */
import type { Event, Hello, NudgeOutcome, Status } from '../../shared/protocol.js';
import type { FilterValues, TimelineEntry, Trends, Violation, ViolationException, SubjectExport } from '../../shared/api-types.js';
import type { AppState } from '../../shared/snapshot.js';
import type { Logger } from '../../shared/log.js';
import type { ShownUser } from './people.js';
import type { AgentRow, Enrolment } from './agents.js';
import type { ApiTokenRow, Role } from './tokens.js';
import type { SecretRow } from './secrets.js';
import type { LoginResult, SessionUser, UserRow } from './users.js';
import type { AlertRule, Delivery, Trigger } from './alerts.js';
import type { Pruned, RetentionOptions } from './retention.js';
import type { ReportSchedule } from '../reports/store.js';
import type { RevealResult } from './reveals.js';
import type { InstanceRow, PolicyVersions } from './instances.js';
import type { PendingLogin, SsoIdentity, SsoLogin } from './oidc.js';
import type { ChangeKey } from './violations.js';

export type { AgentRow, Enrolment, ApiTokenRow, Role, SecretRow, LoginResult, SessionUser, UserRow, AlertRule, Delivery, Trigger, Pruned, RetentionOptions, ReportSchedule, RevealResult, ShownUser, PendingLogin, SsoIdentity, SsoLogin };

export type Engine = 'sqlite' | 'postgres';

/**
 * What a store is opened with (server/store/open.ts `openStore`). A PostgreSQL URL loads
 * `server/store/pg/index.js`, which exports
 * `openPostgresStore(url: string, opts: OpenOptions): Promise<Store>` (migrated, pool ready).
 */
export interface OpenOptions {
  /** `sqlite:PATH` (default DATA/consultguard.db) or `postgres://...` / `postgresql://...`. */
  url?: string;
  /** The data folder (SQLite's default file lives there; 0700). */
  dataDir: string;
  /** Show clinicians' names instead of pseudonyms (`--show-names`: the clinic's decision). */
  showNames?: boolean;
  now?: () => number;
  /** How often the change feed looks for commits made elsewhere (SQLite polls; default 1000 ms). */
  changePollMs?: number;
  /** For the store's own warnings (a failed change-feed subscriber, a lost connection); never row data. */
  log?: Logger;
  /** Single sign-ins under way at once, at most (store/oidc.ts PENDING_MAX, 10,000); smaller only in tests. */
  oidcPendingMax?: number;
}

/** The module `server/store/pg/index.js` (loaded only for a PostgreSQL URL). */
export interface PostgresEngineModule {
  openPostgresStore(url: string, opts: OpenOptions): Promise<Store>;
}

export interface ViolationFilter {
  app?: string;
  agent?: string;
  site?: string;
  state?: AppState;
  since?: number;
  until?: number;
  hostname?: string;
  /** A pseudonym (or, with --show-names, also a name; `erased` for erased ones). */
  user?: string;
  /** Free text: matched against workstation, pseudonym (or name with --show-names), app and site. */
  q?: string;
}

/** A keyset cursor: the last row's (started_at, seq). */
export interface FeedCursor {
  startedAt: number;
  seq: number;
}

export interface IngestResult {
  stored: number;
  duplicates: number;
  /** Violations opened or changed by this batch (for the live feed). */
  touched: string[];
  /** The events newly stored (for SIEM forwarding). */
  events: Event[];
}

export interface AgentIdentity {
  agentId: string;
  hostname: string;
  site: string | null;
}

export interface ViolationStore {
  /** Stores a batch in one transaction; resolves after the commit (the caller acks then). */
  ingest(agent: AgentIdentity, events: Event[]): Promise<IngestResult>;
  /** Stores nudge outcomes once each and marks their violations; resolves after the commit. */
  ingestNudges(agentId: string, nudges: NudgeOutcome[]): Promise<{ stored: number; touched: string[] }>;
  list(filter: ViolationFilter, limit: number, cursor?: FeedCursor): Promise<{ items: Violation[]; next: FeedCursor | null }>;
  /**
   * A feed page (GET /api/violations): `list` with each violation's clinician exception, or
   * null, read together (one statement on PostgreSQL, not one for the page and one for its
   * exceptions).
   */
  feed(filter: ViolationFilter, limit: number, cursor?: FeedCursor): Promise<{ items: Violation[]; next: FeedCursor | null }>;
  /**
   * Every matching violation, newest first, in pages of `pageSize`, the next page read only
   * when asked for (PostgreSQL: a server-side cursor in one snapshot; SQLite has none and
   * exports in a worker). Stop early with the generator's `return()` (it frees the cursor).
   */
  stream?(filter: ViolationFilter, pageSize?: number): AsyncGenerator<Violation[]>;
  get(agentId: string, id: string): Promise<Violation | null>;
  detail(agentId: string, id: string): Promise<{ violation: Violation; timeline: TimelineEntry[] } | null>;
  acknowledge(agentId: string, id: string, status: 'acknowledged' | 'resolved', by: string, note: string): Promise<Violation | null>;
  /** The agents holding a violation with this id (up to 10). */
  agentsWithId(id: string): Promise<string[]>;
  trends(since: number, until: number, timezone: string): Promise<Trends>;
  filterValues(): Promise<FilterValues>;
  /** The stored `user` of a violation (name, keyed hash or erased marker), for alerts; null when none. */
  storedUser(agentId: string, id: string): Promise<string | null>;
  /** Violations of one stored user (any case) started in [since, until], optionally at one site. */
  countByUser(user: string, since: number, until: number, site: string | null): Promise<number>;
  /**
   * Violations changed after `after` (by updated_at, then key), oldest first: what another
   * connection committed, for the live feed across instances on one SQLite file. Engines whose
   * change feed names the violations (PostgreSQL's NOTIFY payloads) leave it out.
   */
  changedSince?(after: ChangeKey, limit: number): Promise<ChangeKey[]>;
}

/** Pseudonyms are a keyed hash (the key lives in the store, read once at open): no I/O here. */
export interface People {
  readonly showNames: boolean;
  pseudonym(name: string): string;
  /** What a reader is shown for a stored `user` value. */
  show(user: string | null): ShownUser;
  /** An evidence line as readers see it (home folders hidden unless names are shown). */
  showEvidence(line: string): string;
  /** Every stored spelling with this pseudonym (names and hashes). */
  namesOf(pseudonym: string): Promise<string[]>;
}

export interface AgentStore {
  get(agentId: string): Promise<AgentRow | undefined>;
  /** The current token hash: null when revoked, undefined when forgotten or never enrolled. */
  tokenHash(agentId: string): Promise<string | null | undefined>;
  /** Records a new agent. Rejects (unique key) if the id exists: enrolment never overwrites. */
  enrol(hello: Hello, e: Enrolment): Promise<void>;
  /** A reconnect with the agent's own token: refreshes what it reports, never a pinned site. */
  reconnect(hello: Hello): Promise<void>;
  saveStatus(agentId: string, s: Status): Promise<void>;
  touch(agentId: string): Promise<void>;
  /** Revokes the token and marks the id revoked (it cannot re-enrol until forgotten). */
  revokeToken(agentId: string): Promise<boolean>;
  /** Deletes the identity (admin `agent forget`): the id may enrol again with a secret. */
  forget(agentId: string): Promise<boolean>;
  assign(agentId: string, site: string | null, grp: string | null): Promise<boolean>;
  /** How many agents a secret has enrolled (revoked ones count until forgotten). */
  enrolledBy(key: string): Promise<number>;
  list(): Promise<AgentRow[]>;
}

export interface ApiTokenStore {
  create(role: Role, name: string | null): Promise<{ id: string; token: string }>;
  verify(token: string): Promise<{ id: string; role: Role; name: string | null } | undefined>;
  revoke(id: string): Promise<boolean>;
  /** Every token ever made, newest first; never the token itself. */
  list(): Promise<ApiTokenRow[]>;
  /** Still valid (a live stream's periodic re-check). */
  live(id: string): Promise<boolean>;
}

export interface SecretStore {
  create(site: string | null): Promise<{ id: string; secret: string }>;
  /** The live secret matching `secret`, if any (hash lookup). */
  find(secret: string): Promise<SecretRow | undefined>;
  revoke(id: string): Promise<boolean>;
  list(): Promise<SecretRow[]>;
}

export interface UserStore {
  /** Password hashing runs off the event loop in a bounded pool; its figures for /metrics. */
  kdfStats(): { active: number; queued: number; peak: number; refused: number };
  /** Creates or replaces a user. */
  add(name: string, role: Role, password: string): Promise<void>;
  /** New password for an existing user; every session of theirs ends. False: no such user. */
  reset(name: string, password: string): Promise<boolean>;
  /** Disables a user: no login, every session ends. False: no such (enabled) user. */
  disable(name: string): Promise<boolean>;
  /** Lets a disabled user sign in again (single sign-on users have no password to re-add). False: no such disabled user. */
  enable(name: string): Promise<boolean>;
  exists(name: string): Promise<boolean>;
  get(name: string): Promise<UserRow | undefined>;
  list(): Promise<UserRow[]>;
  /** Checks the limits, then the password. May reject with KdfBusy. */
  login(name: string, password: string, ip: string): Promise<LoginResult>;
  /** The session's user, sliding its idle timeout; undefined when unknown, ended or expired. */
  session(sessionId: string): Promise<SessionUser | undefined>;
  /** Whether a session (by its key) is still valid, without counting as activity. */
  sessionLive(sessionKey: string): Promise<boolean>;
  logout(sessionId: string): Promise<void>;
}

/**
 * Single sign-on (OpenID Connect, server/oidc/; SQLite migration 013, PostgreSQL 003): sign-ins
 * under way (used once, ten minutes) and the link from a provider's user (issuer + subject,
 * never a name) to a users row of its own, `sso:NAME`, with no password.
 */
export interface OidcStore {
  /** Remembers a sign-in under way; answers the browser cookie's value that finds it again, or null when too many are under way. */
  begin(p: PendingLogin): Promise<string | null>;
  /** The sign-in behind a cookie, taken (used once, whichever instance asks); null when unknown or older than ten minutes. */
  take(cookieId: string): Promise<PendingLogin | null>;
  /** Signs a provider's user in with `role`: finds or makes its users row, then opens a session like a password login (one transaction). */
  login(who: SsoIdentity, role: Role, ip: string): Promise<SsoLogin>;
  /** A provider's user who no longer holds a mapped group: its open sessions end; answers its users-row name, if it has one. */
  refused(who: Pick<SsoIdentity, 'issuer' | 'subject'>): Promise<string | null>;
}

export interface AuditRecord {
  seq: number;
  at: string;
  actor: string;
  action: string;
  detail: Record<string, unknown>;
}

export interface AuditStore {
  record(actor: string, action: string, detail?: Record<string, unknown>): Promise<void>;
  /** Newest first; `before` is a seq (paging). */
  list(limit: number, before?: number): Promise<AuditRecord[]>;
}

export interface ExceptionCounts {
  claimed: number;
  accepted: number;
  rejected: number;
  pending: number;
  unexplained: number;
}

export interface ExceptionStore {
  /** The `exception` outcomes of a nudges batch (idempotent); answers how many rows changed. */
  ingest(agentId: string, nudges: NudgeOutcome[]): Promise<number>;
  get(agentId: string, violationId: string): Promise<ViolationException | null>;
  /** Exceptions of many violations at once (a feed page), keyed `${agentId}\u0000${violationId}`. */
  forViolations(items: Array<{ agentId: string; id: string }>): Promise<Map<string, ViolationException>>;
  decide(agentId: string, violationId: string, decision: 'accepted' | 'rejected', by: string, note: string): Promise<ViolationException | null>;
  counts(since: number, until: number): Promise<ExceptionCounts>;
}

export interface RevealStore {
  /** Reads the name and records the reveal in one transaction. */
  reveal(agentId: string, id: string, by: string, reason: string): Promise<RevealResult>;
}

export interface SubjectErasure {
  subject: { pseudonym: string };
  erased: Record<'violations' | 'events' | 'nudges' | 'exceptions' | 'reviewNotes' | 'reveals' | 'auditNotes' | 'dashboardTraces', number>;
  kept: string[];
}

export interface SubjectStore {
  identify(name: string): Promise<{ pseudonym: string; names: string[]; needles: string[] }>;
  /** SQLite on a file: read in a worker thread with its own connection (sqlite.ts); the caller audits it. */
  exportSubject(name: string): Promise<SubjectExport>;
  /**
   * Erases in one transaction, and in that transaction audits it (`subject-erase` by `actor`,
   * the pseudonym and counts, plus `auditDetail` such as a request reference).
   */
  eraseSubject(name: string, actor: string, auditDetail?: Record<string, unknown>): Promise<SubjectErasure>;
}

/** One alert to fire: enqueued (one delivery per channel) only if `subject` has not fired within `windowMs`. */
export interface Firing {
  rule: AlertRule;
  /** e.g. `violation:AGENT/ID`, `repeat:PSEUDONYM`, `silent:AGENT:LASTSEEN`. */
  subject: string;
  /** Infinity: once ever. */
  windowMs: number;
  payload: object & { alertId: string };
  /** The trigger it answers (settleTriggers), if any. */
  triggerSeq?: number;
}

export interface AlertQueueCounts {
  queued: number;
  retrying: number;
  delivered: number;
  failed: number;
  oldestQueuedAt: number | null;
}

/** Alert rules, triggers from ingest and the durable delivery queue, shared by every instance. */
export interface AlertQueue {
  addRule(rule: Omit<AlertRule, 'id' | 'createdAt'>): Promise<AlertRule>;
  rules(): Promise<AlertRule[]>;
  rule(id: string): Promise<AlertRule | null>;
  /** Removes a rule; its queued deliveries and triggers go with it. */
  removeRule(id: string): Promise<boolean>;
  /** Ingest's part: one row per matching event, one transaction. */
  addTriggers(rows: Array<Omit<Trigger, 'seq'>>): Promise<void>;
  /** The oldest `limit` triggers, left in place (another instance may be looking at them too). */
  peekTriggers(limit: number): Promise<Trigger[]>;
  /**
   * One transaction: deletes the triggers `seqs` still present, then fires the firings whose
   * `triggerSeq` this call deleted (or that have none). Two instances settling the same
   * triggers: one wins, the other's firings are dropped. Answers how many triggers it deleted.
   */
  settleTriggers(seqs: number[], firings: Firing[]): Promise<number>;
  /** One transaction: each firing's once-per-window check, and its deliveries when it passes. Answers how many fired. */
  fire(firings: Firing[]): Promise<number>;
  /** Leases up to `limit` due deliveries for `leaseMs` (another instance skips them meanwhile). */
  claim(limit: number, leaseMs: number): Promise<Delivery[]>;
  delivered(id: number): Promise<void>;
  /** A failed attempt: try again at `retryAt`, or give up (null). `error` is a code, never secret text. */
  attemptFailed(id: number, error: string, retryAt: number | null): Promise<void>;
  counts(): Promise<AlertQueueCounts>;
  /** Finished deliveries and old firings go after `keepMs` (a queued row is never lost). */
  prune(keepMs: number): Promise<void>;
}

export interface ReportRun {
  period: string;
  state: string;
  sent_at: number | null;
  last_error: string | null;
  attempts: number;
}

/** The raw figures of one site's period (reports/content.ts words them). */
export interface ReportFigures {
  total: number;
  /** Minutes in calls (unrounded). */
  inCallMinutes: number;
  shown: number;
  clicked: number;
  byApp: Array<{ app: string; n: number }>;
  /** Top 10 by count, then name. */
  hosts: Array<{ hostname: string; n: number }>;
  /** Counts per 15-minute bucket; `b` is the bucket number (start = b * 900000 ms). */
  buckets: Array<{ b: number; n: number }>;
  /** Counts per local day in the asked zone, when the engine counted them (SQLite roll-ups); then `buckets` is empty. */
  days?: Array<{ day: string; n: number }>;
}

export interface ReportStore {
  add(s: Omit<ReportSchedule, 'id' | 'createdAt'>): Promise<ReportSchedule>;
  list(): Promise<ReportSchedule[]>;
  get(id: string): Promise<ReportSchedule | null>;
  remove(id: string): Promise<boolean>;
  /** True when this caller now owns sending (report, period) until `leaseMs` from now. */
  claim(reportId: string, period: string, leaseMs: number): Promise<boolean>;
  sent(reportId: string, period: string): Promise<void>;
  failed(reportId: string, period: string, code: string, retryAt: number): Promise<void>;
  /** The newest run of a schedule (for listings). */
  lastRun(reportId: string): Promise<ReportRun | null>;
  /** Violations of `site` started in [since, until); `now` ends open in-call ones. */
  /** `tz`: the report's zone, so an engine that keeps per-day roll-ups in it can answer from them. */
  figures(site: string, since: number, until: number, now: number, tz?: string): Promise<ReportFigures>;
}

export interface RetentionStore {
  /**
   * One full pass over every table (in batches, yielding between them); answers what it
   * deleted. SQLite on a file: in a worker thread with its own connection (sqlite.ts).
   */
  run(opts: RetentionOptions, now?: number, batch?: number): Promise<Pruned>;
  /** Only the violations part (and what hangs off them); answers how many violations went. */
  pruneViolations(days: number, now?: number, batch?: number): Promise<number>;
}

/**
 * Topics of the change feed. A subscriber hears of commits made by this process (`notify`)
 * and by others (another instance, the CLI). Engines may call a subscriber when nothing of
 * its topic changed (SQLite cannot tell topics apart across processes), so a subscriber
 * re-reads what it caches; it must be cheap and idempotent.
 */
export type ChangeTopic = 'tokens' | 'agents' | 'users' | 'alerts' | 'violations' | 'policies' | 'reports';

export interface ChangeFeed {
  /** `payload` is what `notify` sent (undefined when the engine only knows "something changed"). Returns unsubscribe. */
  subscribe(topic: ChangeTopic, cb: (payload?: string) => void): () => void;
  /** Tells every instance (this one included) that `topic` changed; payload under 4000 bytes. */
  notify(topic: ChangeTopic, payload?: string): Promise<void>;
}

/** Which server instances use this store and which policy versions each has loaded (store/instances.ts). */
export interface InstanceStore {
  /** This instance is alive and has these policy versions loaded (its row, rewritten). */
  record(r: { instanceId: string; host: string; policyVersions: PolicyVersions; startedAt: number }): Promise<void>;
  /** Instances heard from in the last `maxAgeMs`, oldest first; older rows are deleted. */
  live(maxAgeMs: number): Promise<InstanceRow[]>;
  /** A stopping instance leaves at once instead of lingering until it goes quiet. */
  remove(instanceId: string): Promise<void>;
}

/**
 * Which instance holds which agent's socket (store/presence.ts): an agent is online while a
 * live instance (`instances` row fresh) holds it, whichever instance is asked.
 */
export interface PresenceStore {
  /** This instance took these agents' sockets and lost those (one transaction). */
  update(instanceId: string, change: { held: string[]; released: string[] }): Promise<void>;
  /** This instance holds exactly these agents (its rows rewritten; [] when it stops). */
  replace(instanceId: string, held: string[]): Promise<void>;
  /** How many agents the store says this instance holds (to notice rows lost or never written). */
  count(instanceId: string): Promise<number>;
  /** Agents held by other instances heard from in the last `maxAgeMs`; rows of instances gone from the table are deleted. */
  elsewhere(instanceId: string, maxAgeMs: number): Promise<string[]>;
}

export interface ClusterJobs {
  /**
   * Runs `fn` unless another instance on this store is running the job `name` right now
   * (PostgreSQL: an advisory lock; SQLite: always runs it). Answers whether it ran.
   */
  runExclusive(name: string, fn: () => Promise<void>): Promise<boolean>;
}

export interface Store {
  readonly engine: Engine;
  /** Where the data is, for logs and /healthz, never with a password (`sqlite:/path`, `postgres://host:5432/db`). */
  readonly location: string;
  people: People;
  agents: AgentStore;
  violations: ViolationStore;
  reveals: RevealStore;
  subjects: SubjectStore;
  apiTokens: ApiTokenStore;
  secrets: SecretStore;
  users: UserStore;
  oidc: OidcStore;
  audit: AuditStore;
  exceptions: ExceptionStore;
  alerts: AlertQueue;
  reports: ReportStore;
  retention: RetentionStore;
  instances: InstanceStore;
  presence: PresenceStore;
  changes: ChangeFeed;
  jobs: ClusterJobs;
  /**
   * A real round trip and the schema version; rejects with an error whose `code` names what
   * is wrong (SQLite: `SQLITE_*`, `ENOTOPEN`, `EREPLACED`, `ESCHEMA`; PostgreSQL: its SQLSTATE
   * or `ECONNREFUSED` and the like). Never resolves with secrets in a message.
   */
  probe(): Promise<void>;
  /**
   * A consistent copy to `file` (0600). SQLite: the online backup API. PostgreSQL rejects with
   * AppError `bad_option` saying to use pg_dump / the cluster's own backups.
   */
  backup(file: string): Promise<void>;
  /**
   * Runs `fn` in one transaction: everything done through `tx` commits together or not at
   * all. Meant for admin commands (a change and its audit entry); keep it short: other
   * writers wait (SQLite has one writer).
   */
  transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
