/**
 * Linux socket tables read straight from /proc (the fastest complete source measured:
 * ../shared/notes/performance.md). Parsing only; who owns a socket is resolved separately
 * and only for the sockets someone asked about.
 */
import { readFileSync } from 'node:fs';

export interface RawSocket {
  protocol: 'tcp' | 'udp';
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  state: string;
  inode: number;
}

const TCP_STATES: Record<string, string> = {
  '01': 'ESTABLISHED', '02': 'SYN_SENT', '03': 'SYN_RECV', '04': 'FIN_WAIT1', '05': 'FIN_WAIT2', '06': 'TIME_WAIT',
  '07': 'CLOSE', '08': 'CLOSE_WAIT', '09': 'LAST_ACK', '0A': 'LISTEN', '0B': 'CLOSING',
};

/** /proc/net hex address: IPv4 is one little-endian word, IPv6 four. */
export function hexToIp(hex: string): string {
  if (hex.length === 8) {
    const n = parseInt(hex, 16);
    return `${n & 255}.${(n >>> 8) & 255}.${(n >>> 16) & 255}.${n >>> 24}`;
  }
  const bytes: number[] = [];
  for (let w = 0; w < 4; w++) {
    const word = hex.slice(w * 8, w * 8 + 8);
    for (let b = 3; b >= 0; b--) bytes.push(parseInt(word.slice(b * 2, b * 2 + 2), 16));
  }
  const mapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 255 && bytes[11] === 255;
  if (mapped) return `::ffff:${bytes.slice(12).join('.')}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return groups.join(':');
}

export function parseProcNet(text: string, protocol: 'tcp' | 'udp'): RawSocket[] {
  const out: RawSocket[] = [];
  const lines = text.split('\n');
  for (let i = 1; i < lines.length; i++) {
    const f = lines[i]!.trim().split(/\s+/);
    if (f.length < 10) continue;
    const [local, remote, st, inode] = [f[1]!, f[2]!, f[3]!, f[9]!];
    const lc = local.indexOf(':');
    const rc = remote.indexOf(':');
    out.push({
      protocol,
      localAddress: hexToIp(local.slice(0, lc)),
      localPort: parseInt(local.slice(lc + 1), 16),
      remoteAddress: hexToIp(remote.slice(0, rc)),
      remotePort: parseInt(remote.slice(rc + 1), 16),
      state: protocol === 'tcp' ? (TCP_STATES[st] ?? st) : '',
      inode: Number(inode),
    });
  }
  return out;
}

export function readSockets(procRoot = '/proc'): RawSocket[] {
  const out: RawSocket[] = [];
  for (const [file, protocol] of [['tcp', 'tcp'], ['tcp6', 'tcp'], ['udp', 'udp'], ['udp6', 'udp']] as const) {
    try {
      out.push(...parseProcNet(readFileSync(`${procRoot}/net/${file}`, 'latin1'), protocol));
    } catch {
      // no IPv6 on this host, or /proc/net hidden: the other tables still count
    }
  }
  return out;
}

export interface Flow {
  protocol: 'tcp' | 'udp';
  localPort: number;
  remoteAddress: string;
  remotePort: number;
}

/**
 * Flows the kernel's connection tracker has seen, by local port. Browsers send WebRTC media
 * from unconnected UDP sockets, whose remote address the socket table does not show;
 * conntrack does (root only, and only where netfilter tracks connections).
 */
export function readConntrack(localAddresses: Set<string>, procRoot = '/proc'): Flow[] | null {
  let text: string;
  try {
    text = readFileSync(`${procRoot}/net/nf_conntrack`, 'latin1');
  } catch {
    return null;
  }
  const flows: Flow[] = [];
  for (const line of text.split('\n')) {
    const proto = / (udp|tcp) /.exec(line)?.[1] as 'udp' | 'tcp' | undefined;
    if (!proto) continue;
    const src = /src=(\S+)/.exec(line)?.[1];
    const dst = /dst=(\S+)/.exec(line)?.[1];
    const sport = /sport=(\d+)/.exec(line)?.[1];
    const dport = /dport=(\d+)/.exec(line)?.[1];
    if (!src || !dst || !sport || !dport || !localAddresses.has(src)) continue;
    flows.push({ protocol: proto, localPort: Number(sport), remoteAddress: dst, remotePort: Number(dport) });
  }
  return flows;
}
