/**
 * The `/agent` WebSocket endpoint: upgrade, liveness pings, the registry of connected
 * agents (for online status and policy pushes), and the revocation sweep.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { AppError } from '../../shared/errors.js';
import { AGENT_PATH, CloseCode, MAX_FRAME_BYTES } from '../../shared/protocol.js';
import type { EffectivePolicy } from '../../shared/policy.js';
import { policyForAgent } from './pinning.js';
import { createQuotas, type QuotaOptions } from './quota.js';
import type { Presence } from './presence.js';
import { startSession, type AgentSession, type SessionDeps } from './session.js';

export interface GatewayDeps extends Omit<SessionDeps, 'onReady' | 'onClosed' | 'quotas'> {
  pingIntervalMs: number;
  quota: QuotaOptions;
  /** The agent's address in the gateway's logs (behind a trusted proxy: the one it names). */
  clientAddress?: (req: IncomingMessage) => string;
  /** Quotas are pruned every 60 of these (default 1 s); revokes arrive through the store's change feed. */
  sweepIntervalMs?: number;
  /** Cluster presence (./presence.ts): told of every agent this instance takes or loses, asked about the others'. */
  presence?: Pick<Presence, 'held' | 'released' | 'elsewhere'>;
}

export function createGateway(deps: GatewayDeps) {
  // permessage-deflate off: it costs ~250 KB per connection once a message has flowed
  // (../shared/notes/performance.md), and our frames are small JSON.
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES, perMessageDeflate: false, clientTracking: false });
  const online = new Map<string, AgentSession>();
  const sockets = new Set<WebSocket>();
  const alive = new WeakSet<WebSocket>();
  const quotas = createQuotas(deps.quota);

  const sessionDeps: SessionDeps = {
    ...deps,
    quotas,
    onReady(s) {
      const previous = s.agentId ? online.get(s.agentId) : undefined;
      // Only the agent's own token gets here, so this is the same agent again (a half-open
      // old link, or a restart): keep the newest connection, close the older normally.
      if (previous && previous !== s) previous.ws.close(CloseCode.replaced, 'replaced');
      if (s.agentId) {
        online.set(s.agentId, s);
        deps.presence?.held(s.agentId);
      }
    },
    onClosed(s) {
      if (s.agentId && online.get(s.agentId) === s) {
        online.delete(s.agentId);
        deps.presence?.released(s.agentId);
        deps.store.agents.touch(s.agentId).catch((err: unknown) => deps.log.warn({ err }, 'could not record when an agent left'));
      }
    },
  };

  const revokedMessage = 'this agent\'s token was revoked by an administrator; it may enrol again only after "consultguard-server agent forget ID"';
  /**
   * Closes online agents whose token is gone. The store's change feed says when tokens or
   * agents changed anywhere (this instance, another one, the admin CLI); only then are the
   * online agents walked (one primary-key lookup each).
   */
  let sweeping = false;
  let again = false;
  async function sweep(): Promise<void> {
    if (sweeping) {
      again = true;
      return;
    }
    sweeping = true;
    try {
      do {
        again = false;
        for (const s of [...online.values()]) {
          if (!(await s.stillAuthorised())) s.end(new AppError('unauthorized', revokedMessage));
        }
      } while (again);
    } finally {
      sweeping = false;
    }
  }
  const onChange = () => {
    sweep().catch((err: unknown) => deps.log.warn({ err }, 'revocation sweep failed; retrying at the next change'));
  };
  const unsubscribe = [deps.store.changes.subscribe('tokens', onChange), deps.store.changes.subscribe('agents', onChange)];
  const pruner = setInterval(() => quotas.prune(), 60 * (deps.sweepIntervalMs ?? 1000));
  pruner.unref();

  const pinger = setInterval(() => {
    for (const ws of sockets) {
      if (!alive.has(ws)) {
        ws.terminate();
        continue;
      }
      alive.delete(ws);
      ws.ping();
    }
  }, deps.pingIntervalMs);
  pinger.unref();

  let closing = false;

  function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const path = (req.url ?? '').split('?')[0];
    if (path !== AGENT_PATH) return false;
    socket.on('error', () => socket.destroy());
    // Shutting down: a socket accepted now would outlive close() and touch a closed store.
    if (closing) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 5\r\n\r\n');
      return true;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      if (closing) return void ws.terminate();
      sockets.add(ws);
      alive.add(ws);
      ws.on('pong', () => alive.add(ws));
      ws.on('close', () => sockets.delete(ws));
      startSession(ws, deps.clientAddress?.(req) ?? req.socket.remoteAddress ?? 'unknown', sessionDeps);
    });
    return true;
  }

  return {
    attach(server: Server): void {
      server.on('upgrade', (req, socket, head) => {
        if (!handleUpgrade(req, socket, head)) {
          socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
        }
      });
    },
    /** Connected here, or to another live instance on this store (as of its last presence refresh). */
    isOnline: (agentId: string): boolean => online.has(agentId) || (deps.presence?.elsewhere(agentId) ?? false),
    /** The agents connected to this instance. */
    onlineIds: (): Iterable<string> => online.keys(),
    /** Closes an agent's connection as unauthorised (its token was revoked or forgotten). */
    disconnect(agentId: string, reason = revokedMessage): void {
      online.get(agentId)?.end(new AppError('unauthorized', reason));
    },
    onlineCount: (): number => online.size,
    connectionCount: (): number => sockets.size,
    /**
     * An administrator moved a connected agent (the store already says so): its session
     * takes the new site (pinned) and group, and it gets its new policy at once.
     */
    reassign(agentId: string, site: string | null, group: string | null, policyFor: (agent: { site?: string | null; group?: string | null }) => EffectivePolicy): void {
      const s = online.get(agentId);
      if (!s?.hello) return;
      s.hello = { ...s.hello, site: site ?? undefined, group: group ?? undefined };
      s.sitePinned = site !== null;
      s.pushPolicy(policyForAgent(policyFor, { site, group, sitePinned: s.sitePinned }));
    },
    /** Sends each connected agent its policy if its version changed. */
    pushPolicies(policyFor: (agent: { site?: string | null; group?: string | null }) => EffectivePolicy): void {
      for (const s of online.values()) s.pushPolicy(policyForAgent(policyFor, { site: s.hello?.site, group: s.hello?.group, sitePinned: s.sitePinned }));
    },
    /** Closes every agent socket and resolves once all are gone (before the store closes). */
    async close(): Promise<void> {
      closing = true;
      clearInterval(pinger);
      clearInterval(pruner);
      for (const u of unsubscribe) u();
      const gone = [...sockets].map((ws) => new Promise<void>((resolve) => {
        if (ws.readyState === ws.CLOSED) return resolve();
        ws.once('close', () => resolve());
      }));
      for (const ws of sockets) ws.close(1001, 'server shutting down');
      const timer = setTimeout(() => {
        for (const ws of sockets) ws.terminate();
      }, 1000);
      await Promise.all(gone);
      clearTimeout(timer);
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

export type Gateway = ReturnType<typeof createGateway>;
