/**
 * Forwarding for a SIEM: every stored event, with its violation's context, as one JSON
 * object per line to a file, and/or as RFC 5424 syslog messages over UDP or TCP.
 * Forwarding never blocks or fails ingest. Each target keeps its own failure streak
 * (logged once per streak, counted in /healthz and /metrics) and recovers by itself:
 * the file is retried on the next event (an event forwarded while it fails is not in the
 * file, but is stored and in the API), TCP reconnects with capped back-off and queues.
 * UDP is fire-and-forget: only local send errors (no route, bad address) can show as
 * failing; a receiver that is down is invisible over UDP on every OS.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { appendFileSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import type { Logger } from '../../shared/log.js';
import type { Event } from '../../shared/protocol.js';
import { createStreak, type StreakStatus } from '../health/streak.js';
import type { People } from '../store/people.js';
import { hideHomeFolders } from '../store/people.js';
import { createTcpLink, type LinkOptions } from './syslog-tcp.js';

export interface ForwardConfig {
  file?: string;
  syslog?: { host: string; port: number; protocol: 'udp' | 'tcp' };
  /**
   * How clinicians are shown (store/people.ts): pseudonyms unless the server shows names,
   * home folders hidden in evidence. Without it, no user and no evidence paths go out.
   */
  people?: Pick<People, 'show' | 'showEvidence'>;
  /** TCP reconnect back-off (ms); defaults 500 doubling up to 30 s. */
  retry?: LinkOptions['retry'];
}

export interface ForwardRecord {
  agentId: string;
  hostname: string;
  site: string | null;
  event: Event;
}

/** What /healthz shows per configured target (absent targets are off). */
export interface ForwardStatus {
  file?: StreakStatus & { path: string };
  syslog?: StreakStatus & { target: string; queued?: number; dropped?: number };
}

// local0 (16) * 8 + warning (4): a consumer app in a consult is worth a look, not an outage.
const PRI = 16 * 8 + 4;

export function syslogLine(record: ForwardRecord, json: string, now = new Date()): string {
  // RFC 5424: <PRI>VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA MSG
  const sd = `[consultguard@32473 kind="${record.event.kind}" app="${sdEscape(record.event.app)}" agent="${record.agentId}"]`;
  return `<${PRI}>1 ${now.toISOString()} ${hostname() || '-'} consultguard ${process.pid} violation ${sd} ${json}`;
}

function sdEscape(s: string): string {
  return s.replace(/["\\\]]/g, (c) => `\\${c}`);
}

function fileTarget(path: string, log: Logger) {
  const streak = createStreak(log, `SIEM file ${path}`);
  // The folder is (re)made on each try: a log rotation or cleanup may have removed it.
  const attempt = (fn: () => void) => {
    try {
      mkdirSync(dirname(path), { recursive: true });
      fn();
      streak.ok();
    } catch (err) {
      streak.fail(err, { path });
    }
  };
  // Checked at start, so /healthz is truthful before the first event.
  attempt(() => closeSync(openSync(path, 'a')));
  return {
    write(json: string): void {
      attempt(() => appendFileSync(path, `${json}\n`));
    },
    status: () => ({ ...streak.status(), path }),
  };
}

function udpTarget(host: string, port: number, log: Logger) {
  const streak = createStreak(log, `syslog udp://${host}:${port}`);
  // Nothing to check before the first send: "ok" over UDP means "no local error seen".
  streak.ok();
  let socket: UdpSocket | null = null;
  return {
    send(line: string): void {
      socket ??= createSocket(host.includes(':') ? 'udp6' : 'udp4').on('error', (err) => streak.fail(err, { host, port }));
      socket.send(line, port, host, (err) => (err ? streak.fail(err, { host, port }) : streak.ok()));
    },
    status: () => ({ ...streak.status(), target: `udp://${host}:${port}` }),
    close: () => socket?.close(),
  };
}

export function createForwarder(config: ForwardConfig, log: Logger) {
  const file = config.file ? fileTarget(config.file, log) : null;
  const s = config.syslog;
  const tcp = s?.protocol === 'tcp' ? createTcpLink({ host: s.host, port: s.port, log, retry: config.retry }) : null;
  const udp = s?.protocol === 'udp' ? udpTarget(s.host, s.port, log) : null;
  const hostPort = s ? (s.host.includes(':') ? `[${s.host}]:${s.port}` : `${s.host}:${s.port}`) : '';

  const people = config.people;
  // A SIEM keeps what it gets for years, outside this server's retention and erasure: it
  // gets the pseudonym (what the store shows), never more.
  const shown = (e: Event) => {
    const { user, userKind } = people?.show(e.user ?? null) ?? { user: null, userKind: null };
    return { ...e, user, userKind, evidence: e.evidence.map(people?.showEvidence ?? hideHomeFolders) };
  };
  return {
    enabled: Boolean(file || tcp || udp),
    forward(records: ForwardRecord[]): void {
      for (const r of records) {
        const json = JSON.stringify({ type: 'consultguard.violation', agentId: r.agentId, hostname: r.hostname, site: r.site, ...shown(r.event) });
        file?.write(json);
        if (tcp || udp) {
          const line = syslogLine(r, json);
          tcp?.send(line);
          udp?.send(line);
        }
      }
    },
    status(): ForwardStatus {
      return {
        ...(file ? { file: file.status() } : {}),
        ...(tcp ? { syslog: { ...tcp.status(), target: `tcp://${hostPort}` } } : {}),
        ...(udp ? { syslog: udp.status() } : {}),
      };
    },
    close(): void {
      udp?.close();
      tcp?.close();
    },
  };
}

export type Forwarder = ReturnType<typeof createForwarder>;
