/**
 * One agent connection: waits for `hello` (or closes 4408), authenticates it, then
 * stores event batches (ack after commit) and status heartbeats. Any protocol violation
 * gets a coded `error` frame and the contract's close code; other agents are unaffected.
 *
 * Frames of one connection are handled one after another, in order (each waits for the
 * store), so acks keep the order of the batches. Every frame after `hello` first re-reads
 * the agent's token hash (one primary-key lookup):
 * a revoke or forget from any process (the CLI is a separate process on the same SQLite
 * file) stops the next frame from being stored, even before the gateway's sweep closes the
 * socket. Event and nudge frames are then charged to the agent's quota, and their times
 * checked against the server's clock, before they are stored.
 */
import type { WebSocket } from 'ws';
import { AppError } from '../../shared/errors.js';
import type { AgentMessage, Events, Hello, Nudges } from '../../shared/protocol.js';
import type { Logger } from '../../shared/log.js';
import type { EffectivePolicy } from '../../shared/policy.js';
import type { Store } from '../store/index.js';
import type { IngestResult } from '../store/types.js';
import { authenticate, type SecretCheck } from './auth.js';
import { checkTimes, type ClockLimits } from './clock.js';
import { fail, parseFrame, send } from './frames.js';
import { policyForAgent } from './pinning.js';
import type { Quotas } from './quota.js';

export interface SessionMetrics {
  ingested(stored: number, duplicates: number, seconds: number): void;
  rejected(code: string): void;
  quotaRefused?(kind: 'events' | 'bytes'): void;
  eventTimes?(clamped: number, expired: number): void;
}

export interface SessionDeps {
  store: Store;
  secrets: SecretCheck;
  policyFor: (agent: { site?: string | null; group?: string | null }) => EffectivePolicy;
  log: Logger;
  helloTimeoutMs: number;
  /** Messages per second allowed per connection (sustained), and the burst above it. */
  rate: { perSecond: number; burst: number };
  quotas: Quotas;
  clock: ClockLimits;
  onReady: (s: AgentSession) => void;
  onClosed: (s: AgentSession) => void;
  onIngest: (agent: { agentId: string; hostname: string; site: string | null }, result: IngestResult) => void;
  onNudges?: (agentId: string, violationIds: string[]) => void;
  metrics?: SessionMetrics;
}

export interface AgentSession {
  ws: WebSocket;
  agentId: string | null;
  hello: Hello | null;
  /** The hash of the token this connection authenticated with (null before hello). */
  tokenHash: string | null;
  /** The site came from a per-site secret (it decides the policy; see pinning.ts). */
  sitePinned: boolean;
  policyVersion: string | null;
  pushPolicy(policy: EffectivePolicy): void;
  /** Whether the store still holds this connection's token for its agent. */
  stillAuthorised(): Promise<boolean>;
  /** Ends the connection with the coded error and its close code. */
  end(err: AppError): void;
}

const REVOKED = 'this agent\'s token was revoked by an administrator; it may enrol again only after "consultguard-server agent forget ID"';

export function startSession(ws: WebSocket, remote: string, deps: SessionDeps): AgentSession {
  const log = deps.log.child({ remote });
  let tokens = deps.rate.burst;
  let lastRefill = Date.now();
  let ended = false;
  const session: AgentSession = {
    ws,
    agentId: null,
    hello: null,
    tokenHash: null,
    sitePinned: false,
    policyVersion: null,
    pushPolicy(policy) {
      if (!session.agentId || policy.version === session.policyVersion) return;
      session.policyVersion = policy.version;
      send(ws, { type: 'policy', policy });
    },
    stillAuthorised: async () => session.agentId !== null && (await deps.store.agents.tokenHash(session.agentId)) === session.tokenHash,
    end(err) {
      if (ended) return;
      ended = true;
      deps.metrics?.rejected(err.code);
      fail(ws, err);
    },
  };

  const helloTimer = setTimeout(() => {
    deps.metrics?.rejected('hello_timeout');
    log.info({ code: 'hello_timeout' }, 'agent sent no hello in time; closing');
    fail(ws, new AppError('hello_timeout', `no hello within ${deps.helloTimeoutMs / 1000} s of connecting`));
  }, deps.helloTimeoutMs);

  function allow(): boolean {
    const now = Date.now();
    tokens = Math.min(deps.rate.burst, tokens + ((now - lastRefill) / 1000) * deps.rate.perSecond);
    lastRefill = now;
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
  }

  async function onHello(hello: Hello): Promise<void> {
    clearTimeout(helloTimer);
    const auth = await authenticate(hello, deps.store.agents, deps.secrets);
    // The stored record is the truth for the site (a site secret pins it, whatever the claim).
    const row = await deps.store.agents.get(hello.agentId);
    const msg: Hello = { ...hello, site: row?.site ?? undefined, group: row?.grp ?? undefined };
    const agentLog = log.child({ agentId: msg.agentId, hostname: msg.host.hostname });
    session.agentId = msg.agentId;
    session.hello = msg;
    session.tokenHash = auth.tokenHash;
    session.sitePinned = row?.site_pinned === 1;
    const policy = policyForAgent(deps.policyFor, { site: msg.site, group: msg.group, sitePinned: session.sitePinned });
    session.policyVersion = policy.version;
    send(ws, { type: 'welcome', agentId: msg.agentId, token: auth.token, policy, serverTime: new Date().toISOString() });
    agentLog.info({ enrolled: auth.enrolled, policy: policy.version }, auth.enrolled ? 'agent enrolled' : 'agent connected');
    deps.onReady(session);
  }

  /** Quota first (nothing stored, nothing acked when over: the agent resends later). */
  function charge(agentId: string, msg: Events | Nudges, bytes: number): void {
    const items = msg.type === 'events' ? msg.events.length : msg.nudges.length;
    const verdict = deps.quotas.take(agentId, items, bytes);
    if (verdict.ok) return;
    deps.metrics?.quotaRefused?.(verdict.kind);
    throw new QuotaError(verdict.kind, verdict.retryAfterSec);
  }

  async function handle(msg: AgentMessage, bytes: number): Promise<void> {
    if (msg.type === 'hello') {
      if (session.agentId) throw new AppError('bad_message', 'hello may be sent only once per connection');
      await onHello(msg);
      return;
    }
    if (!session.agentId || !session.hello) {
      throw new AppError('hello_required', `the first frame must be "hello", got "${msg.type}"`);
    }
    if (!(await session.stillAuthorised())) throw new AppError('unauthorized', REVOKED);
    const agentId = session.agentId;
    if (msg.type === 'events') {
      charge(agentId, msg, bytes);
      const t0 = performance.now();
      const hello = session.hello;
      const agent = { agentId, hostname: hello.host.hostname, site: hello.site ?? null };
      const times = checkTimes(msg.events, deps.clock, Date.now());
      if (times.clamped || times.expired) {
        deps.metrics?.eventTimes?.(times.clamped, times.expired);
        log.warn({ agentId, clamped: times.clamped, expired: times.expired }, 'event times outside the accepted window (agent clock off?)');
      }
      // Acked only once the commit resolved: a failure rejects and the agent resends.
      const result = times.kept.length ? await deps.store.violations.ingest(agent, times.kept) : { stored: 0, duplicates: 0, touched: [], events: [] };
      if (ended) return;
      send(ws, { type: 'ack', batch: msg.batch });
      deps.metrics?.ingested(result.stored, result.duplicates, (performance.now() - t0) / 1000);
      await deps.store.agents.touch(agentId);
      if (result.stored) deps.onIngest(agent, result);
      return;
    }
    if (msg.type === 'nudges') {
      charge(agentId, msg, bytes);
      const times = checkTimes(msg.nudges, deps.clock, Date.now());
      if (times.clamped || times.expired) deps.metrics?.eventTimes?.(times.clamped, times.expired);
      const result = times.kept.length ? await deps.store.violations.ingestNudges(agentId, times.kept) : { stored: 0, touched: [] };
      if (times.kept.length) await deps.store.exceptions.ingest(agentId, times.kept); // clinician exceptions (server/store/exceptions.ts), before the ack
      if (ended) return;
      send(ws, { type: 'ack', batch: msg.batch });
      if (result.stored) deps.onNudges?.(agentId, result.touched);
      return;
    }
    await deps.store.agents.saveStatus(agentId, msg);
  }

  function failed(err: unknown): void {
    if (err instanceof QuotaError) {
      log.warn({ code: err.code, agentId: session.agentId, kind: err.kind, retryAfterSec: err.retryAfterSec }, 'agent over its quota; batch refused, it will resend');
      ended = true;
      deps.metrics?.rejected(err.code);
      fail(ws, err, { retryAfterSec: err.retryAfterSec });
    } else if (err instanceof AppError) {
      log.warn({ code: err.code, agentId: session.agentId }, err.message);
      session.end(err);
    } else {
      // A store failure: do not ack; the agent keeps the batch and resends it. The
      // exception goes to the log only; the agent gets the fixed "internal" text.
      log.error({ err, agentId: session.agentId }, 'failed to handle a frame');
      ended = true;
      deps.metrics?.rejected('internal');
      fail(ws, err);
    }
  }

  // One frame at a time, in arrival order: the next waits for the store to answer this one.
  let queue: Promise<void> = Promise.resolve();
  ws.on('message', (data, isBinary) => {
    if (ended) return; // refused already; the close is on its way
    let msg: AgentMessage;
    let bytes: number;
    try {
      if (!allow()) throw new AppError('rate_limited', `more than ${deps.rate.perSecond} messages per second; slow down and reconnect`);
      msg = parseFrame(data, isBinary);
      bytes = frameBytes(data);
    } catch (err) {
      failed(err);
      return;
    }
    queue = queue.then(() => (ended ? undefined : handle(msg, bytes))).catch(failed);
  });
  ws.on('error', (err) => log.warn({ err: err.message }, 'agent socket error'));
  ws.on('close', () => {
    clearTimeout(helloTimer);
    deps.onClosed(session);
  });
  return session;
}

class QuotaError extends AppError {
  constructor(readonly kind: 'events' | 'bytes', readonly retryAfterSec: number) {
    super('quota_exceeded', `this agent is over its ${kind === 'events' ? 'events' : 'bytes'}-per-hour quota; the batch was not stored (it stays queued on the agent); send it again in ${retryAfterSec} s`);
  }
}

function frameBytes(data: unknown): number {
  if (Buffer.isBuffer(data)) return data.length;
  if (Array.isArray(data)) return (data as Buffer[]).reduce((n, b) => n + b.length, 0);
  if (data instanceof ArrayBuffer) return data.byteLength;
  return Buffer.byteLength(String(data));
}
