/**
 * The agent's link to the server (CONTRACTS section 3). Sends `hello`, then drains the
 * outbox one batch at a time: the next batch goes only after the previous one's `ack`
 * (back-pressure, and an ack always means "everything up to this seq is stored").
 * Reconnects with capped exponential back-off and full jitter; pings to detect dead
 * links; drops a revoked token and re-enrols with the enrolment secret.
 */
import { readFileSync } from 'node:fs';
import { hostname as osHostname, release } from 'node:os';
import WebSocket from 'ws';
import { AppError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import type { EffectivePolicy } from '../shared/policy.js';
import { AGENT_PATH, CloseCode, MAX_FRAME_BYTES, PROTOCOL_VERSION, ServerMessage, type Status } from '../shared/protocol.js';
import type { Platform } from '../shared/snapshot.js';
import type { Outbox } from './outbox.js';

export interface TransportOptions {
  serverUrl: string;
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
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);

/** Validates the server URL and returns the agent endpoint URL. */
export function agentEndpoint(serverUrl: string, insecure: boolean): string {
  let url: URL;
  try {
    url = new URL(serverUrl);
  } catch {
    throw new AppError('bad_option', `--server: "${serverUrl}" is not a URL; expected wss://HOST:PORT`);
  }
  if (url.protocol === 'http:') url.protocol = 'ws:';
  if (url.protocol === 'https:') url.protocol = 'wss:';
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw new AppError('bad_option', `--server: expected a wss:// URL, got ${url.protocol}`);
  const loopback = LOOPBACK.has(url.hostname) || url.hostname.startsWith('127.');
  if (url.protocol === 'ws:' && !loopback && !insecure) {
    throw new AppError('bad_option', `--server: plain ws:// to ${url.hostname} would send events unencrypted; use wss:// (or --insecure on a trusted test network)`);
  }
  if (url.pathname === '/' || url.pathname === '') url.pathname = AGENT_PATH;
  return url.toString();
}

export function createTransport(opts: TransportOptions) {
  const log = opts.log;
  const endpoint = agentEndpoint(opts.serverUrl, opts.insecure);
  const ca = opts.caFile ? readFileSync(opts.caFile) : undefined;
  const batchSize = opts.batchSize ?? 200;
  const batchDelayMs = opts.batchDelayMs ?? 250;
  const backoff = opts.backoff ?? { minMs: 1000, maxMs: 60_000 };
  const pingIntervalMs = opts.pingIntervalMs ?? 30_000;

  let ws: WebSocket | null = null;
  let ready = false;
  let stopped = false;
  let attempt = 0;
  let inFlight: number | null = null;
  let usedToken = false;
  let reconnectTimer: NodeJS.Timeout | undefined;
  let flushTimer: NodeJS.Timeout | undefined;
  let pingTimer: NodeJS.Timeout | undefined;
  let failing = false;
  let connectedSince: number | null = null;

  function hello() {
    const token = opts.token();
    usedToken = token !== null;
    return {
      type: 'hello' as const,
      protocol: PROTOCOL_VERSION,
      agentId: opts.agentId,
      ...(token ? { token } : {}),
      ...(opts.enrollSecret ? { enrollSecret: opts.enrollSecret } : {}),
      host: { hostname: osHostname(), platform: process.platform as Platform, osVersion: release(), agentVersion: opts.agentVersion },
      ...(opts.site ? { site: opts.site } : {}),
      ...(opts.group ? { group: opts.group } : {}),
    };
  }

  function scheduleReconnect(): void {
    if (stopped) return;
    const cap = Math.min(backoff.maxMs, backoff.minMs * 2 ** attempt);
    const delay = Math.round(backoff.minMs / 2 + Math.random() * (cap - backoff.minMs / 2));
    attempt++;
    reconnectTimer = setTimeout(connect, delay);
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
        attempt = 0;
        connectedSince = Date.now();
        if (failing) log.info('connected to the server again');
        failing = false;
        opts.setToken(msg.token);
        opts.onPolicy(msg.policy);
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
        log.warn({ code: msg.code }, `server refused: ${msg.message}`);
        break;
    }
  }

  function connect(): void {
    if (stopped) return;
    const socket = new WebSocket(endpoint, { perMessageDeflate: false, handshakeTimeout: 10_000, maxPayload: MAX_FRAME_BYTES, ca });
    ws = socket;
    let alive = true;
    socket.on('open', () => {
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
      ready = false;
      inFlight = null;
      connectedSince = null;
      if (code === CloseCode.unauthorized && usedToken) {
        log.warn('the server no longer accepts this agent\'s token; re-enrolling with the enrolment secret');
        opts.setToken(null);
        if (!opts.enrollSecret) log.error('no enrolment secret configured; set CONSULTGUARD_ENROLL_SECRET to re-enrol');
      }
      scheduleReconnect();
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
