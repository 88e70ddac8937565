/**
 * macOS connections from `lsof -F`, lsof's machine-readable output, instead of `netstat`
 * columns (which moved between macOS releases and carry no pid).
 *
 * -F prints one field per line, its first character naming it: a process set starts with
 * `p<pid>` (then `c<command>`), each of its open files with `f<fd>`, then `t<type>` (IPv4,
 * IPv6), `P<protocol>` (TCP, UDP), `n<name>` and `T<info>` lines (`TST=ESTABLISHED`).
 * The name is `local->remote` for a connected socket, or just `local` (`*:5353`,
 * `10.0.1.5:61234`, sometimes `*:*`) for an unconnected one: a browser's WebRTC media
 * goes out of unconnected UDP sockets, whose peers macOS does not show at all, so those
 * are left out (capabilities report UDP peers as partial on macOS).
 */
import type { Connection } from '../../shared/snapshot.js';
import type { Interesting } from './connections.js';

export const LSOF_FILE = '/usr/sbin/lsof';
/** -n -P: no DNS or port-name lookups (slow, and names are not addresses); -w: no warnings; -Ts: TCP state only. */
export const LSOF_ARGS = ['-nP', '-w', '-iTCP', '-iUDP', '-Ts', '-FpcfPnT'];

const UNSPECIFIED = new Set(['*', '0.0.0.0', '::', '[::]', '']);

/** "10.0.1.5:61234", "[2001:db8::1]:443", "*:5353" -> address and port (null port for "*"). */
export function splitEndpoint(text: string): { address: string; port: number | null } | null {
  let address: string;
  let port: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0 || text[close + 1] !== ':') return null;
    address = text.slice(1, close);
    port = text.slice(close + 2);
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) return null;
    address = text.slice(0, colon);
    port = text.slice(colon + 1);
  }
  // A scoped IPv6 address (fe80::1%en0) keeps its zone out of the address.
  const zone = address.indexOf('%');
  if (zone >= 0) address = address.slice(0, zone);
  const n = port === '*' ? null : Number(port);
  if (n !== null && (!Number.isInteger(n) || n < 0 || n > 65535)) return null;
  return { address, port: n };
}

interface OpenFile {
  protocol?: 'tcp' | 'udp';
  name?: string;
  state?: string;
}

export function parseLsof(text: string, interesting?: Interesting): Connection[] {
  const out: Connection[] = [];
  const seen = new Set<string>();
  let pid: number | undefined;
  let file: OpenFile | null = null;
  const flush = () => {
    if (!file || !file.protocol || !file.name) return;
    const arrow = file.name.indexOf('->');
    if (arrow < 0) return; // unconnected (listening TCP, unconnected UDP): no peer to report
    const local = splitEndpoint(file.name.slice(0, arrow));
    const remote = splitEndpoint(file.name.slice(arrow + 2));
    if (!local || !remote || remote.port === null || remote.port === 0 || UNSPECIFIED.has(remote.address)) return;
    if (file.state === 'LISTEN' || file.state === 'TIME_WAIT') return;
    if (interesting && !interesting(remote.address)) return;
    const c: Connection = {
      protocol: file.protocol, localAddress: local.address, localPort: local.port ?? 0,
      remoteAddress: remote.address, remotePort: remote.port, state: file.protocol === 'tcp' ? file.state ?? '' : '',
    };
    if (pid !== undefined) c.pid = pid;
    // A socket shared by a parent and its child is listed under both; the first owner is kept.
    const key = `${c.protocol} ${c.localAddress} ${c.localPort} ${c.remoteAddress} ${c.remotePort}`;
    if (seen.has(key)) return;
    seen.add(key);
    out.push(c);
  };
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const tag = line[0];
    const value = line.slice(1);
    if (tag === 'p') {
      flush();
      file = null;
      const n = Number(value);
      pid = Number.isInteger(n) && n >= 0 ? n : undefined;
    } else if (tag === 'f') {
      flush();
      file = {};
    } else if (file) {
      if (tag === 'P') file.protocol = value === 'TCP' ? 'tcp' : value === 'UDP' ? 'udp' : undefined;
      else if (tag === 'n') file.name = value;
      else if (tag === 'T' && value.startsWith('ST=')) file.state = value.slice(3);
    }
  }
  flush();
  return out;
}
