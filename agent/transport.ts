/**
 * The agent's link to the server (CONTRACTS section 3). Sends `hello`, then drains the
 * outbox one batch at a time: the next batch goes only after the previous one's `ack`
 * (back-pressure, and an ack always means "everything up to this seq is stored").
 * Reconnects through the list of servers with capped exponential back-off and full jitter
 * (servers.ts decides which and when); pings to detect dead links; drops a token every
 * server refuses and re-enrols with the enrolment secret.
 */
import { readFileSync } from 'node:fs';
import { hostname as osHostname, release } from 'node:os';
import WebSocket from 'ws';
import type { Logger } from '../shared/log.js';
import type { EffectivePolicy } from '../shared/policy.js';
import { CloseCode, MAX_FRAME_BYTES, PROTOCOL_VERSION, ServerMessage, type Status } from '../shared/protocol.js';
import type { Platform } from '../shared/snapshot.js';
import type { Outbox } from './outbox.js';
import { createFailover, serverEndpoints } from './servers.js';

export interface TransportOptions {
  /** One URL, or several (`URL1,URL2` or an array): instances of one cluster, tried in turn (servers.ts). */
  serverUrl: string | readonly string[];
  insecure: boolean;
  caFile?: string;
  agentId: string;
  token: () => string | null;
  setToken: (token: string | null) => void;
  enrollSecret?: string;
  site?: string;
  group?: string;
  agentVersion: string;
  outbox: Outbox;
  log: Logger;
  onPolicy: (policy: EffectivePolicy) => void;
  batchSize?: number;
  batchDelayMs?: number;
  backoff?: { minMs: number; maxMs: number };
  pingIntervalMs?: number;
  /** The workstation name in `hello`, in the policy's collection form (agent/privacy/redact.ts). */
  hostname?: () => string;
}

export { agentEndpoint } from './servers.js';

/** The longest a quota refusal may hold the agent back (the server's window is an hour). */
const MAX_RETRY_AFTER_MS = 3_600_000;

export function createTransport(opts: TransportOptions) {
  const log = opts.log;
  const failover = createFailover({ endpoints: serverEndpoints(opts.serverUrl, opts.insecure), backoff: opts.backoff ?? { minMs: 1000, maxMs: 60_000 } });
  const ca = opts.caFile ? readFileSync(opts.caFile) : undefined;
  const batchSize = opts.batchSize ?? 200;
  const batchDelayMs = opts.batchDelayMs ?? 250;
  const pingIntervalMs = opts.pingIntervalMs ?? 30_000;

  let ws: WebSocket | null = null;
  let ready = false;
  let stopped = false;
  let inFlight: number | null = null;
  let usedToken = false;
  let reconnectTimer: NodeJS.Timeout | undefined;
  let flushTimer: NodeJS.Timeout | undefined;
  let pingTimer: NodeJS.Timeout | undefined;
  let failing = false;
  let connectedSince: number | null = null;
  /** The endpoint of the open connection (welcomed or not), and whether it was welcomed. */
  let endpoint = failover.current();
  let welcomed = false;
  const linkListeners: Array<() => void> = [];
  /** From the server's last `error` frame on this connection (quota: when to come back). */
  let retryAfterMs = 0;
  let lastRefusal: string | null = null;
  const hostname = opts.hostname ?? osHostname;
  /** The name the current connection's hello carried. */
  let helloHost = '';

  function hello() {
    const token = opts.token();
    usedToken = token !== null;
    return {
      type: 'hello' as const,
      protocol: PROTOCOL_VERSION,
      agentId: opts.agentId,
      // The token alone once the agent has one: the secret (shared by the whole roll-out)
      // goes on the wire only to enrol, and the server never falls back to it for a known id.
      ...(token ? { token } : opts.enrollSecret ? { enrollSecret: opts.enrollSecret } : {}),
      host: { hostname: (helloHost = hostname()), platform: process.platform as Platform, osVersion: release(), agentVersion: opts.agentVersion },
      ...(opts.site ? { site: opts.site } : {}),
      ...(opts.group ? { group: opts.group } : {}),
    };
  }

  function scheduleReconnect(delay: number, notBeforeMs = 0): void {
    if (stopped) return;
    // Over quota the server says when it takes data again; coming back sooner only gets
    // refused again (the unacked batch stays in the outbox meanwhile). Jitter spreads agents.
    const wait = notBeforeMs > delay ? notBeforeMs + Math.round(Math.random() * Math.min(notBeforeMs / 10, 30_000)) : delay;
    reconnectTimer = setTimeout(connect, wait);
  }

  function pump(): void {
    if (!ready || !ws || inFlight !== null) return;
    if (ws.bufferedAmount > MAX_FRAME_BYTES) return; // the socket is backed up; the ack will pump again
    const queued = opts.outbox.peek(batchSize);
    if (queued.length === 0) return;
    // One frame carries one kind: the run of events (or of nudge outcomes) at the head.
    const nudges = queued[0]!.nudge !== undefined;
    let end = 1;
    while (end < queued.length && (queued[end]!.nudge !== undefined) === nudges) end++;
    const run = queued.slice(0, end);
    // The batch number is the last seq in it: it increases per agent, across restarts.
    inFlight = run[run.length - 1]!.seq;
    ws.send(JSON.stringify(nudges
      ? { type: 'nudges', batch: inFlight, nudges: run.map((q) => q.nudge) }
      : { type: 'events', batch: inFlight, events: run.map((q) => q.event) }));
  }

  function onMessage(data: WebSocket.RawData): void {
    let msg: ServerMessage;
    try {
      msg = ServerMessage.parse(JSON.parse(data.toString()));
    } catch (err) {
      log.warn({ err: (err as Error).message.slice(0, 200) }, 'ignoring a malformed message from the server');
      return;
    }
    switch (msg.type) {
      case 'welcome':
        ready = true;
        welcomed = true;
        connectedSince = Date.now();
        if (failing) log.info({ server: endpoint }, 'connected to the server again');
        failing = false;
        opts.setToken(msg.token);
        opts.onPolicy(msg.policy);
        for (const l of linkListeners) l();
        pump();
        break;
      case 'ack':
        if (inFlight !== null && msg.batch === inFlight) {
          opts.outbox.ack(inFlight);
          inFlight = null;
          pump();
        }
        break;
      case 'policy':
        opts.onPolicy(msg.policy);
        break;
      case 'error':
        if (msg.retryAfterSec !== undefined) retryAfterMs = Math.min(MAX_RETRY_AFTER_MS, msg.retryAfterSec * 1000);
        lastRefusal = msg.code;
        log.warn({ code: msg.code, retryAfterSec: msg.retryAfterSec }, `server refused: ${msg.message}`);
        break;
    }
  }

  function connect(): void {
    if (stopped) return;
    endpoint = failover.current();
    welcomed = false;
    const socket = new WebSocket(endpoint, { perMessageDeflate: false, handshakeTimeout: 10_000, maxPayload: MAX_FRAME_BYTES, ca });
    ws = socket;
    let alive = true;
    socket.on('open', () => {
      retryAfterMs = 0;
      lastRefusal = null;
      socket.send(JSON.stringify(hello()));
      clearInterval(pingTimer);
      pingTimer = setInterval(() => {
        if (!alive) return socket.terminate();
        alive = false;
        socket.ping();
      }, pingIntervalMs);
    });
    socket.on('pong', () => (alive = true));
    socket.on('message', onMessage);
    socket.on('error', (err) => {
      // One warning per failure streak, not one per retry.
      if (!failing) log.warn({ err: err.message, server: endpoint }, 'cannot reach the server; events stay queued on disk');
      failing = true;
    });
    socket.on('close', (code) => {
      clearInterval(pingTimer);
      if (ws === socket) ws = null;
      const wasReady = ready;
      ready = false;
      inFlight = null;
      connectedSince = null;
      const tokenRefused = code === CloseCode.unauthorized && usedToken;
      const next = failover.ended({ welcomed, code, tokenRefused });
      if (wasReady) for (const l of linkListeners) l();
      if (next.dropToken) {
        // A whole round of the list went by with no welcome and a refusal of the token
        // (revoked, or the store was replaced): it is dead. Trying the secret next enrols only if the server does not know this id;
        // a revoked id stays refused until an administrator runs `consultguard-server agent forget ID`.
        log.warn({ agentId: opts.agentId }, 'the server no longer accepts this agent\'s token; trying the enrolment secret (a revoked agent needs "consultguard-server agent forget ID" first)');
        opts.setToken(null);
        if (!opts.enrollSecret) log.error('no enrolment secret configured; set CONSULTGUARD_ENROLL_SECRET to re-enrol');
      } else if (tokenRefused) {
        if (!failing) log.warn({ agentId: opts.agentId, server: endpoint }, 'this server refused the agent\'s token; trying the next server of the list (all must be instances of one cluster)');
        failing = true;
      } else if (code === CloseCode.unauthorized && (lastRefusal === 'unauthorized' || lastRefusal === 'enrolment_limit')) {
        if (!failing) log.error({ agentId: opts.agentId, code: lastRefusal }, 'enrolment refused; ask an administrator (an id already known or revoked needs "consultguard-server agent forget ID"; a full secret needs a new one)');
        failing = true;
      }
      scheduleReconnect(next.delayMs, retryAfterMs);
    });
  }

  return {
    start(): void {
      stopped = false;
      connect();
    },
    /** Sends queued events soon (coalescing appends that come close together). */
    flush(): void {
      if (flushTimer) return;
      flushTimer = setTimeout(() => {
        flushTimer = undefined;
        pump();
      }, batchDelayMs);
    },
    sendStatus(status: Omit<Status, 'type'>): void {
      if (ready && ws) ws.send(JSON.stringify({ type: 'status', ...status }));
    },
    connected: (): boolean => ready,
    /** The endpoint in use while connected, else null. */
    server: (): string | null => (ready ? endpoint : null),
    /** Every endpoint the agent may use, in the order it tries them. */
    servers: (): string[] => failover.endpoints(),
    /** Calls `fn` whenever a connection is welcomed or lost (the status file names the server in use). */
    onLinkChange(fn: () => void): void {
      linkListeners.push(fn);
    },
    /**
     * A new policy may change the hostname form (collection.hostname): the server records
     * the name at each hello, so a changed form reconnects at once and replaces it.
     */
    refreshHostname(): void {
      if (ws && ready && hostname() !== helloHost) ws.close(1000, 'hostname form changed');
    },
    connectedSince: (): number | null => connectedSince,
    /** Waits briefly for the in-flight batch's ack, then closes. */
    async stop(graceMs = 2000): Promise<void> {
      const deadline = Date.now() + graceMs;
      while (ready && (inFlight !== null || opts.outbox.peek(1).length > 0) && Date.now() < deadline) {
        pump();
        await new Promise((r) => setTimeout(r, 20));
      }
      stopped = true;
      clearTimeout(reconnectTimer);
      clearTimeout(flushTimer);
      clearInterval(pingTimer);
      if (ws) {
        const socket = ws;
        await new Promise<void>((resolve) => {
          if (socket.readyState === WebSocket.CLOSED) return resolve();
          socket.once('close', () => resolve());
          socket.close(1000, 'agent stopping');
          setTimeout(() => {
            socket.terminate();
            resolve();
          }, 1000).unref();
        });
      }
    },
  };
}

export type Transport = ReturnType<typeof createTransport>;
