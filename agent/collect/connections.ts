/**
 * Network connections: protocol, addresses, ports, owning pid. On Linux straight from
 * /proc (socket tables, conntrack for unconnected UDP, and a /proc/PID/fd walk for owners);
 * on macOS from `lsof -F` (darwin-lsof.ts); on Windows through systeminformation (netstat).
 *
 * `interesting(remoteAddress)` keeps only the flows the caller cares about (the agent
 * passes "inside some app's published ranges"), so nothing else is held, and on Linux the
 * expensive owner walk runs only when an interesting flow exists: most polls skip it.
 */
import { networkInterfaces } from 'node:os';
import type { Connection } from '../../shared/snapshot.js';
import { walkFds } from './proc-fds.js';
import type { WindowsCollectors } from './win-native.js';
import { readConntrack, readSockets, type RawSocket } from './proc-net.js';

export type Interesting = (remoteAddress: string) => boolean;

const UNSPECIFIED = new Set(['0.0.0.0', '::', '0:0:0:0:0:0:0:0', '::ffff:0.0.0.0', '*', '']);

function localAddresses(): Set<string> {
  const out = new Set<string>();
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) out.add(a.address);
  return out;
}

/** A socket kept for the snapshot, its owner not yet known. */
export interface KeptSocket {
  socket: RawSocket;
  remoteAddress: string;
  remotePort: number;
}

/** inode -> pid for the wanted inodes; stops walking as soon as all are found. */
export function socketOwners(wanted: Set<number>, procRoot = '/proc'): Map<number, number> {
  return walkFds({ inodes: wanted, capture: null, nodes: { devRoot: '/dev' } }, procRoot).owners;
}

/** The Linux sockets worth reporting (connected, or unconnected UDP with a conntrack flow), owners not resolved. */
export function linuxSockets(interesting?: Interesting, procRoot = '/proc'): KeptSocket[] {
  const sockets = readSockets(procRoot);
  const kept: KeptSocket[] = [];
  const unconnectedUdp = new Map<number, RawSocket>();
  for (const s of sockets) {
    if (s.protocol === 'tcp' && (s.state === 'LISTEN' || s.state === 'TIME_WAIT')) continue;
    if (UNSPECIFIED.has(s.remoteAddress) || s.remotePort === 0) {
      if (s.protocol === 'udp') unconnectedUdp.set(s.localPort, s);
      continue;
    }
    if (!interesting || interesting(s.remoteAddress)) kept.push({ socket: s, remoteAddress: s.remoteAddress, remotePort: s.remotePort });
  }
  if (unconnectedUdp.size > 0) {
    for (const f of readConntrack(localAddresses(), procRoot) ?? []) {
      const socket = f.protocol === 'udp' ? unconnectedUdp.get(f.localPort) : undefined;
      if (socket && (!interesting || interesting(f.remoteAddress))) kept.push({ socket, remoteAddress: f.remoteAddress, remotePort: f.remotePort });
    }
  }
  return kept;
}

export function withOwners(kept: KeptSocket[], owners: Map<number, number>): Connection[] {
  return kept.map(({ socket, remoteAddress, remotePort }) => {
    const c: Connection = {
      protocol: socket.protocol, localAddress: socket.localAddress, localPort: socket.localPort,
      remoteAddress, remotePort, state: socket.state,
    };
    const pid = owners.get(socket.inode);
    if (pid !== undefined) c.pid = pid;
    return c;
  });
}

export function collectLinuxConnections(interesting?: Interesting, procRoot = '/proc'): Connection[] {
  const kept = linuxSockets(interesting, procRoot);
  return withOwners(kept, socketOwners(new Set(kept.map((k) => k.socket.inode)), procRoot));
}

async function collectWithSysteminformation(interesting?: Interesting): Promise<Connection[]> {
  // Loaded only where it is used (not on Linux): it is a large module to keep in memory.
  const { default: si } = await import('systeminformation');
  const list = await si.networkConnections();
  const out: Connection[] = [];
  for (const c of list) {
    const remotePort = Number(c.peerPort);
    if (UNSPECIFIED.has(c.peerAddress) || !Number.isInteger(remotePort) || remotePort === 0) continue;
    if (c.state === 'LISTEN' || (interesting && !interesting(c.peerAddress))) continue;
    const conn: Connection = {
      protocol: c.protocol.startsWith('udp') ? 'udp' : 'tcp', localAddress: c.localAddress, localPort: Number(c.localPort) || 0,
      remoteAddress: c.peerAddress, remotePort, state: c.state ?? '',
    };
    if (c.pid) conn.pid = c.pid;
    out.push(conn);
  }
  return out;
}

export function createConnectionCollector(platform: NodeJS.Platform = process.platform, windows?: WindowsCollectors) {
  // Windows: the TCP table from the native collector (win-native.ts), netstat as its fallback.
  if (platform === 'win32' && windows) return windows.connections;
  // macOS: lsof -F (darwin-lsof.ts), loaded lazily like systeminformation.
  const darwin = platform === 'darwin' ? import('./darwin.js').then((m) => m.createDarwinCollectors().connections) : null;
  return async function collectConnections(interesting?: Interesting): Promise<Connection[]> {
    if (platform === 'linux') return collectLinuxConnections(interesting);
    if (darwin) return (await darwin)(interesting);
    return collectWithSysteminformation(interesting);
  };
}
