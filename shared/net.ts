/**
 * IP address parsing into fixed-width integers, for prefix matching. IPv4 is held as
 * IPv4-mapped IPv6 (::ffff:a.b.c.d) so one 128-bit structure serves both families and a
 * mapped address in a snapshot matches an IPv4 range.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** 128-bit address as a bigint, or null if not an address. Zone ids (%eth0) are dropped. */
export function parseIp(text: string): bigint | null {
  let s = text.trim();
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  if (isIPv4(s)) return 0xffff00000000n | BigInt(ipv4ToInt(s));
  if (!isIPv6(s)) return null;
  return ipv6ToBigInt(s);
}

function ipv4ToInt(s: string): number {
  const p = s.split('.');
  return ((Number(p[0]) << 24) | (Number(p[1]) << 16) | (Number(p[2]) << 8) | Number(p[3])) >>> 0;
}

function ipv6ToBigInt(s: string): bigint {
  let head = s;
  let tailV4: number | null = null;
  const lastColon = s.lastIndexOf(':');
  const maybeV4 = s.slice(lastColon + 1);
  if (maybeV4.includes('.')) {
    tailV4 = ipv4ToInt(maybeV4);
    head = s.slice(0, lastColon + 1) + '0:0';
  }
  const [left = '', right] = head.split('::');
  const l = left === '' ? [] : left.split(':');
  const r = right === undefined ? [] : right === '' ? [] : right.split(':');
  const groups = right === undefined ? l : [...l, ...Array(8 - l.length - r.length).fill('0'), ...r];
  let v = 0n;
  for (const g of groups) v = (v << 16n) | BigInt(parseInt(g, 16));
  if (tailV4 !== null) v = (v & ~0xffffffffn) | BigInt(tailV4);
  return v;
}

export interface Cidr {
  base: bigint;
  /** Prefix length in the 128-bit space (IPv4 /n becomes /96+n). */
  bits: number;
}

export function parseCidr(text: string): Cidr | null {
  const slash = text.indexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  const base = parseIp(addr);
  if (base === null) return null;
  const v4 = isIPv4(addr.trim());
  const max = v4 ? 32 : 128;
  const len = slash < 0 ? max : Number(text.slice(slash + 1));
  if (!Number.isInteger(len) || len < 0 || len > max) return null;
  const bits = v4 ? 96 + len : len;
  const mask = bits === 0 ? 0n : ((1n << BigInt(bits)) - 1n) << BigInt(128 - bits);
  return { base: base & mask, bits };
}

/**
 * Whether a URL host names this machine's loopback interface: `localhost`, 127.0.0.0/8,
 * ::1, and IPv4-mapped ::ffff:127.x. The host is parsed as an address; a name that merely
 * starts with "127." (`127.attacker.example`) is a DNS name anyone can point anywhere, so
 * it is not loopback. Subdomains of `.localhost` are not trusted either: not every resolver
 * (glibc without systemd-resolved, Windows, macOS) keeps them on loopback.
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/\.$/, '');
  if (h === 'localhost') return true;
  const bare = h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
  if (!isIPv4(bare) && !isIPv6(bare)) return false;
  const ip = parseIp(bare);
  if (ip === null) return false;
  if (ip === 1n) return true; // ::1
  const mapped127 = 0xffff7f000000n; // ::ffff:127.0.0.0/104
  return (ip >> 24n) === (mapped127 >> 24n);
}

/** Whether an address (text, IPv4, IPv6 or IPv4-mapped) lies in one of the ranges. */
export function inRanges(address: string, ranges: readonly Cidr[]): boolean {
  const ip = parseIp(address);
  if (ip === null) return false;
  return ranges.some((r) => {
    const mask = r.bits === 0 ? 0n : ((1n << BigInt(r.bits)) - 1n) << BigInt(128 - r.bits);
    return (ip & mask) === r.base;
  });
}
