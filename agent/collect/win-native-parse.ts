/**
 * The pure half of the Windows native collector: its JSON lines in, the snapshot's
 * processes and connections out. No I/O, so it is tested on output recorded under wine.
 */
import * as z from 'zod';
import { AppError } from '../../shared/errors.js';
import type { Connection, ProcessInfo } from '../../shared/snapshot.js';
import { NativeCmdReply, NativeErrorReply, NativePollReply, NativeTcpReply } from '../../shared/win-collector.js';

export interface NativeProcess {
  pid: number;
  ppid: number;
  session: number;
  /** Creation time, ms since 1970: with the pid, the process's identity (pids are recycled). */
  startMs: number;
  name: string;
  path?: string;
  user?: string;
}

export interface NativeSocket {
  protocol: 'tcp' | 'udp';
  pid: number;
  localAddress: string;
  localPort: number;
  /** TCP only: the UDP table has no remote end on Windows. */
  remoteAddress?: string;
  remotePort?: number;
  state?: string;
}

export interface NativePoll {
  now: number;
  processes: NativeProcess[];
  sockets: NativeSocket[];
}

/** `pid:start`: how the agent names one process to the collector and in its caches. */
export const processKey = (p: { pid: number; startMs: number }): string => `${p.pid}:${p.startMs}`;

function parseLine<T>(line: string, schema: z.ZodType<T>, what: string): T {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    throw new AppError('internal', `the native collector answered ${what} with a line that is not JSON: ${line.slice(0, 80)}`);
  }
  const failed = NativeErrorReply.safeParse(json);
  if (failed.success) throw new AppError('internal', `the native collector could not answer ${what}: ${failed.data.error}`);
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new AppError('internal', `the native collector's answer to ${what} does not fit its format: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/** IPv4-mapped IPv6 (dual-stack sockets) as plain IPv4, so the address ranges match. */
function plainAddress(a: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a);
  return m ? m[1]! : a;
}

function tcpSockets(rows: NativePollReply['tcp']): NativeSocket[] {
  return rows.map(([pid, la, lp, ra, rp, state]) => ({ protocol: 'tcp', pid, localAddress: plainAddress(la), localPort: lp, remoteAddress: plainAddress(ra), remotePort: rp, state }));
}

/** Answer to `poll` or `poll basic` (TCP rows without owners: pid 0). */
export function parsePoll(line: string): NativePoll {
  const r = parseLine(line, NativePollReply, 'poll');
  const processes = r.p.map(([pid, ppid, session, startMs, name, path, user]) => {
    const p: NativeProcess = { pid, ppid, session, startMs, name };
    if (path) p.path = path;
    if (user) p.user = user;
    return p;
  });
  const sockets = tcpSockets(r.tcp);
  for (const [pid, la, lp] of r.udp) sockets.push({ protocol: 'udp', pid, localAddress: plainAddress(la), localPort: lp });
  return { now: r.now, processes, sockets };
}

/** Answer to `tcp`: TCP sockets with owning pids. */
export function parseTcp(line: string): NativeSocket[] {
  return tcpSockets(parseLine(line, NativeTcpReply, 'tcp').tcp);
}

export function parseCmd(line: string): Map<number, string> {
  return new Map(parseLine(line, NativeCmdReply, 'cmd').cmd);
}

/** The `cmd` request for these processes: one line, at most `max` processes (the collector reads 64 KB lines). */
export function cmdRequests(procs: NativeProcess[], max = 500): string[] {
  const out: string[] = [];
  for (let i = 0; i < procs.length; i += max) out.push(`cmd ${procs.slice(i, i + max).map(processKey).join(' ')}`);
  return out;
}

export function toProcessInfo(p: NativeProcess, cmd: string | undefined): ProcessInfo {
  const info: ProcessInfo = { pid: p.pid, ppid: p.ppid, name: p.name };
  if (p.path) info.path = p.path;
  if (cmd) info.cmd = cmd;
  if (p.user) info.user = p.user;
  return info;
}

const UNSPECIFIED = new Set(['0.0.0.0', '::', '']);
const NOT_A_FLOW = new Set(['LISTEN', 'TIME_WAIT', 'CLOSED', 'DELETE_TCB']);

/**
 * Flows with a remote end, as the snapshot's connections. Windows' UDP table has none, so
 * UDP rows cannot become connections (they stay available as sockets: pid and local port).
 * Pid 0 means "owner unknown" (wine: a socket whose process never did I/O on it itself).
 */
export function toConnections(sockets: NativeSocket[], interesting?: (remoteAddress: string) => boolean): Connection[] {
  const out: Connection[] = [];
  for (const s of sockets) {
    if (s.protocol !== 'tcp' || s.remoteAddress === undefined || s.remotePort === undefined) continue;
    if (UNSPECIFIED.has(s.remoteAddress) || s.remotePort === 0 || NOT_A_FLOW.has(s.state ?? '')) continue;
    if (interesting && !interesting(s.remoteAddress)) continue;
    const c: Connection = { protocol: 'tcp', localAddress: s.localAddress, localPort: s.localPort, remoteAddress: s.remoteAddress, remotePort: s.remotePort };
    if (s.state) c.state = s.state;
    if (s.pid > 0) c.pid = s.pid;
    out.push(c);
  }
  return out;
}
