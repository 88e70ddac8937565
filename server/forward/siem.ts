/**
 * Forwarding for a SIEM: every stored event, with its violation's context, as one JSON
 * object per line to a file, and/or as RFC 5424 syslog messages over UDP or TCP.
 * Forwarding never blocks or fails ingest: a write error is logged once per streak.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { appendFileSync, mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { connect, type Socket } from 'node:net';
import { dirname } from 'node:path';
import type { Logger } from '../../shared/log.js';
import type { Event } from '../../shared/protocol.js';

export interface ForwardConfig {
  file?: string;
  syslog?: { host: string; port: number; protocol: 'udp' | 'tcp' };
}

export interface ForwardRecord {
  agentId: string;
  hostname: string;
  site: string | null;
  event: Event;
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

export function createForwarder(config: ForwardConfig, log: Logger) {
  let failing = false;
  let udp: UdpSocket | null = null;
  let tcp: Socket | null = null;
  const fail = (err: unknown, where: string) => {
    if (!failing) log.warn({ err: (err as Error).message, where }, 'SIEM forwarding failed; events are still stored');
    failing = true;
  };
  if (config.file) mkdirSync(dirname(config.file), { recursive: true });

  function tcpSocket(): Socket {
    if (tcp && !tcp.destroyed) return tcp;
    const s = connect(config.syslog!.port, config.syslog!.host);
    s.on('error', (err) => fail(err, 'syslog tcp'));
    s.on('close', () => {
      if (tcp === s) tcp = null;
    });
    tcp = s;
    return s;
  }

  return {
    enabled: Boolean(config.file || config.syslog),
    forward(records: ForwardRecord[]): void {
      for (const r of records) {
        const json = JSON.stringify({ type: 'consultguard.violation', agentId: r.agentId, hostname: r.hostname, site: r.site, ...r.event });
        if (config.file) {
          try {
            appendFileSync(config.file, `${json}\n`);
            failing = false;
          } catch (err) {
            fail(err, config.file);
          }
        }
        if (config.syslog) {
          const line = syslogLine(r, json);
          if (config.syslog.protocol === 'udp') {
            udp ??= createSocket(config.syslog.host.includes(':') ? 'udp6' : 'udp4').on('error', (err) => fail(err, 'syslog udp'));
            udp.send(line, config.syslog.port, config.syslog.host);
          } else {
            // RFC 6587 octet counting, so a message may contain newlines.
            tcpSocket().write(`${Buffer.byteLength(line)} ${line}`);
          }
        }
      }
    },
    close(): void {
      udp?.close();
      tcp?.end();
    },
  };
}

export type Forwarder = ReturnType<typeof createForwarder>;
