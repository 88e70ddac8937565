/**
 * Peer-to-peer media. WebRTC and the native apps send a call's media straight to the other
 * party when they can, so the flow goes to some home or mobile address, not to the vendor.
 * Such a flow alone says nothing (every WebRTC call looks like it, the approved telehealth
 * app's included), but beside a relay or STUN flow to a vendor's network from the same
 * process group in the same snapshot it is that vendor's call: it joins that detection.
 *
 * Not counted as peers: private, loopback, link-local, CGNAT and multicast addresses, and
 * the ports of ordinary UDP services (DNS, NTP, QUIC on 443, mDNS, SSDP, IPsec, and
 * STUN/TURN on 3478-3481/5349/19302-19309, which is some other service's relay, not a peer).
 */
import { parseIp } from '../../shared/net.js';
import { claim, endpoint, groupOf, hitFor, note, type Scene } from './hit.js';
import { ipv4Number } from './prefix-table.js';

const SERVICE_PORTS: Array<[number, number]> = [
  [0, 0], [53, 53], [67, 68], [123, 123], [137, 138], [443, 443], [500, 500], [1900, 1900],
  [3478, 3481], [4500, 4500], [5349, 5349], [5353, 5353], [5355, 5355], [19302, 19309],
];
const MAX_PEER_NOTES = 3;

function servicePort(port: number): boolean {
  return SERVICE_PORTS.some(([lo, hi]) => port >= lo && port <= hi);
}

/** A globally routable unicast address (RFC 5737 documentation ranges count: tests use them for "some public host"). */
export function isPublicAddress(address: string): boolean {
  const v4 = ipv4Number(address);
  if (v4 !== null) return publicV4(v4);
  const ip = parseIp(address);
  if (ip === null) return false;
  if (ip >> 32n === 0xffffn) return publicV4(Number(ip & 0xffffffffn));
  const top16 = Number(ip >> 112n);
  if (ip <= 1n) return false; // :: and ::1
  if ((top16 & 0xfe00) === 0xfc00) return false; // fc00::/7 unique local
  if ((top16 & 0xffc0) === 0xfe80) return false; // fe80::/10 link-local
  if ((top16 & 0xff00) === 0xff00) return false; // multicast
  return (top16 & 0xe000) === 0x2000; // 2000::/3 global unicast
}

function publicV4(n: number): boolean {
  const a = n >>> 24;
  const b = (n >>> 16) & 255;
  if (a === 0 || a === 10 || a === 127 || a >= 224) return false;
  if (a === 169 && b === 254) return false;
  if (a === 172 && b >= 16 && b <= 31) return false;
  if (a === 192 && b === 168) return false;
  if (a === 100 && b >= 64 && b <= 127) return false; // CGNAT
  return true;
}

export function matchPeers(scene: Scene): void {
  if (scene.media.size === 0) return; // no vendor call flow: a peer flow is nobody's
  const notes = new Map<string, number>();
  for (const conn of scene.snapshot.connections) {
    if (conn.protocol !== 'udp' || conn.pid === undefined || servicePort(conn.remotePort)) continue;
    const proc = scene.byPid.get(conn.pid);
    if (!proc) continue;
    const apps = scene.media.get(groupOf(scene, proc));
    if (!apps || scene.catalog.prefixes.lookup(conn.remoteAddress) !== null || !isPublicAddress(conn.remoteAddress)) continue;
    const app = apps[0]!;
    const hit = hitFor(scene, app);
    hit.peers++;
    claim(hit, proc);
    const n = notes.get(app.id) ?? 0;
    if (n < MAX_PEER_NOTES) note(hit, `udp ${endpoint(conn)} peer-to-peer from ${proc.name} beside its ${app.network} relay flow`);
    notes.set(app.id, n + 1);
  }
}
