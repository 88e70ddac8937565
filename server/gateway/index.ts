/**
 * The `/agent` WebSocket endpoint: upgrade, liveness pings, and the registry of
 * connected agents (for online status and policy pushes).
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { AGENT_PATH, MAX_FRAME_BYTES } from '../../shared/protocol.js';
import type { EffectivePolicy } from '../../shared/policy.js';
import { startSession, type AgentSession, type SessionDeps } from './session.js';

export interface GatewayDeps extends Omit<SessionDeps, 'onReady' | 'onClosed'> {
  pingIntervalMs: number;
}

export function createGateway(deps: GatewayDeps) {
  // permessage-deflate off: it costs ~250 KB per connection once a message has flowed
  // (../shared/notes/performance.md), and our frames are small JSON.
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES, perMessageDeflate: false, clientTracking: false });
  const online = new Map<string, AgentSession>();
  const sockets = new Set<WebSocket>();
  const alive = new WeakSet<WebSocket>();

  const sessionDeps: SessionDeps = {
    ...deps,
    onReady(s) {
      const previous = s.agentId ? online.get(s.agentId) : undefined;
      if (previous && previous !== s) previous.ws.close(4000, 'replaced by a newer connection');
      if (s.agentId) online.set(s.agentId, s);
    },
    onClosed(s) {
      if (s.agentId && online.get(s.agentId) === s) {
        online.delete(s.agentId);
        deps.store.agents.touch(s.agentId);
      }
    },
  };

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

  function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const path = (req.url ?? '').split('?')[0];
    if (path !== AGENT_PATH) return false;
    socket.on('error', () => socket.destroy());
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.add(ws);
      alive.add(ws);
      ws.on('pong', () => alive.add(ws));
      ws.on('close', () => sockets.delete(ws));
      startSession(ws, req.socket.remoteAddress ?? 'unknown', sessionDeps);
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
    isOnline: (agentId: string): boolean => online.has(agentId),
    /** Closes an agent's connection as unauthorised (its token was revoked). */
    disconnect(agentId: string, reason: string): void {
      const s = online.get(agentId);
      if (!s) return;
      s.ws.send(JSON.stringify({ type: 'error', code: 'unauthorized', message: reason }));
      s.ws.close(4401, 'unauthorized');
    },
    onlineCount: (): number => online.size,
    connectionCount: (): number => sockets.size,
    /** Sends each connected agent its policy if its version changed. */
    pushPolicies(policyFor: (agent: { site?: string | null; group?: string | null }) => EffectivePolicy): void {
      for (const s of online.values()) s.pushPolicy(policyFor({ site: s.hello?.site, group: s.hello?.group }));
    },
    /** Closes every agent socket and resolves once all are gone (before the store closes). */
    async close(): Promise<void> {
      clearInterval(pinger);
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
