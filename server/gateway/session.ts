/**
 * One agent connection: waits for `hello` (or closes 4408), authenticates it, then
 * stores event batches (ack after commit) and status heartbeats. Any protocol violation
 * gets a coded `error` frame and the contract's close code; other agents are unaffected.
 */
import type { WebSocket } from 'ws';
import { AppError } from '../../shared/errors.js';
import type { AgentMessage, Hello } from '../../shared/protocol.js';
import type { Logger } from '../../shared/log.js';
import type { EffectivePolicy } from '../../shared/policy.js';
import type { Store } from '../store/index.js';
import type { IngestResult } from '../store/violations.js';
import { authenticate, type SecretCheck } from './auth.js';
import { fail, parseFrame, send } from './frames.js';

export interface SessionDeps {
  store: Store;
  secrets: SecretCheck;
  policyFor: (agent: { site?: string | null; group?: string | null }) => EffectivePolicy;
  log: Logger;
  helloTimeoutMs: number;
  /** Messages per second allowed per connection (sustained), and the burst above it. */
  rate: { perSecond: number; burst: number };
  onReady: (s: AgentSession) => void;
  onClosed: (s: AgentSession) => void;
  onIngest: (agent: { agentId: string; hostname: string; site: string | null }, result: IngestResult) => void;
  onNudges?: (agentId: string, violationIds: string[]) => void;
  metrics?: { ingested(stored: number, duplicates: number, seconds: number): void; rejected(code: string): void };
}

export interface AgentSession {
  ws: WebSocket;
  agentId: string | null;
  hello: Hello | null;
  policyVersion: string | null;
  pushPolicy(policy: EffectivePolicy): void;
}

export function startSession(ws: WebSocket, remote: string, deps: SessionDeps): AgentSession {
  const log = deps.log.child({ remote });
  let tokens = deps.rate.burst;
  let lastRefill = Date.now();
  const session: AgentSession = {
    ws,
    agentId: null,
    hello: null,
    policyVersion: null,
    pushPolicy(policy) {
      if (!session.agentId || policy.version === session.policyVersion) return;
      session.policyVersion = policy.version;
      send(ws, { type: 'policy', policy });
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

  function onHello(hello: Hello): void {
    let msg = hello;
    clearTimeout(helloTimer);
    const auth = authenticate(msg, deps.store.agents, deps.secrets);
    // The stored record is the truth for the site (a site secret overrides the agent's claim).
    const site = deps.store.agents.get(msg.agentId)?.site ?? undefined;
    if (site !== (msg.site ?? undefined)) msg = { ...msg, site };
    const agentLog = log.child({ agentId: msg.agentId, hostname: msg.host.hostname });
    session.agentId = msg.agentId;
    session.hello = msg;
    const policy = deps.policyFor({ site: msg.site, group: msg.group });
    session.policyVersion = policy.version;
    send(ws, { type: 'welcome', agentId: msg.agentId, token: auth.token, policy, serverTime: new Date().toISOString() });
    agentLog.info({ enrolled: auth.enrolled, policy: policy.version }, auth.enrolled ? 'agent enrolled' : 'agent connected');
    deps.onReady(session);
  }

  function handle(msg: AgentMessage): void {
    if (msg.type === 'hello') {
      if (session.agentId) throw new AppError('bad_message', 'hello may be sent only once per connection');
      onHello(msg);
      return;
    }
    if (!session.agentId || !session.hello) {
      throw new AppError('hello_required', `the first frame must be "hello", got "${msg.type}"`);
    }
    if (msg.type === 'events') {
      const t0 = performance.now();
      const hello = session.hello;
      const agent = { agentId: session.agentId, hostname: hello.host.hostname, site: hello.site ?? null };
      const result = deps.store.violations.ingest(agent, msg.events);
      send(ws, { type: 'ack', batch: msg.batch });
      deps.metrics?.ingested(result.stored, result.duplicates, (performance.now() - t0) / 1000);
      deps.store.agents.touch(session.agentId);
      if (result.stored) deps.onIngest(agent, result);
      return;
    }
    if (msg.type === 'nudges') {
      const result = deps.store.violations.ingestNudges(session.agentId, msg.nudges);
      send(ws, { type: 'ack', batch: msg.batch });
      if (result.stored) deps.onNudges?.(session.agentId, result.touched);
      return;
    }
    deps.store.agents.saveStatus(session.agentId, msg);
  }

  ws.on('message', (data, isBinary) => {
    try {
      if (!allow()) throw new AppError('rate_limited', `more than ${deps.rate.perSecond} messages per second; slow down and reconnect`);
      handle(parseFrame(data, isBinary));
    } catch (err) {
      if (err instanceof AppError) {
        deps.metrics?.rejected(err.code);
        log.warn({ code: err.code, agentId: session.agentId }, err.message);
        fail(ws, err);
      } else {
        // A store failure: do not ack; the agent keeps the batch and resends it.
        deps.metrics?.rejected('internal');
        log.error({ err, agentId: session.agentId }, 'failed to handle a frame');
        // The exception text stays in the log: agents get our words only.
        fail(ws, new AppError('internal', 'the server could not store this message; it will be retried (details in the server log)'));
      }
    }
  });
  ws.on('error', (err) => log.warn({ err: err.message }, 'agent socket error'));
  ws.on('close', () => {
    clearTimeout(helloTimer);
    deps.onClosed(session);
  });
  return session;
}
