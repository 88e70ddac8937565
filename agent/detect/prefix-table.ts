/**
 * Longest-prefix lookup for thousands of IPv4/IPv6 prefixes. Prefixes are grouped by
 * length into hash maps keyed by the masked address, so a lookup costs one map probe
 * per distinct prefix length (a few dozen at most), however many prefixes there are.
 * IPv4 uses plain numbers (no BigInt on the hot path); IPv4-mapped IPv6 is folded to IPv4.
 */
import { parseCidr, parseIp } from '../../shared/net.js';

interface Level<K, V> {
  bits: number;
  map: Map<K, V>;
}

export class PrefixTable<V> {
  private v4: Level<number, V>[] = [];
  private v6: Level<bigint, V>[] = [];
  private cache = new Map<string, V | null>();
  size = 0;

  /** Adds a prefix; returns false when the CIDR text is invalid. `merge` combines values of equal prefixes. */
  add(cidr: string, value: V, merge: (a: V, b: V) => V): boolean {
    const c = parseCidr(cidr);
    if (!c) return false;
    this.cache.clear();
    this.size++;
    if (c.bits >= 96 && c.base >> 32n === 0xffffn) {
      const bits = c.bits - 96;
      const key = bits === 0 ? 0 : Number(c.base & 0xffffffffn) >>> (32 - bits);
      insert(this.v4, bits, key, value, merge);
    } else {
      const key = c.bits === 0 ? 0n : c.base >> BigInt(128 - c.bits);
      insert(this.v6, c.bits, key, value, merge);
    }
    return true;
  }

  /** The value of the longest prefix containing `address`, or null. */
  lookup(address: string): V | null {
    const hit = this.cache.get(address);
    if (hit !== undefined) return hit;
    const result = this.lookupUncached(address);
    // Bounded memo: a workstation talks to a few hundred distinct addresses per day.
    if (this.cache.size >= 4096) this.cache.clear();
    this.cache.set(address, result);
    return result;
  }

  private lookupUncached(address: string): V | null {
    const v4 = ipv4Number(address);
    if (v4 !== null) {
      for (const level of this.v4) {
        const key = level.bits === 0 ? 0 : v4 >>> (32 - level.bits);
        const v = level.map.get(key);
        if (v !== undefined) return v;
      }
      return null;
    }
    const ip = parseIp(address);
    if (ip === null) return null;
    if (ip >> 32n === 0xffffn) return this.lookupUncached(intToIpv4(Number(ip & 0xffffffffn)));
    for (const level of this.v6) {
      const v = level.map.get(level.bits === 0 ? 0n : ip >> BigInt(128 - level.bits));
      if (v !== undefined) return v;
    }
    return null;
  }
}

function insert<K, V>(levels: Level<K, V>[], bits: number, key: K, value: V, merge: (a: V, b: V) => V): void {
  let level = levels.find((l) => l.bits === bits);
  if (!level) {
    level = { bits, map: new Map() };
    levels.push(level);
    levels.sort((a, b) => b.bits - a.bits); // longest first
  }
  const prev = level.map.get(key);
  level.map.set(key, prev === undefined ? value : merge(prev, value));
}

/** Fast dotted-quad parse (also accepts ::ffff:a.b.c.d); null if not IPv4. */
export function ipv4Number(s: string): number | null {
  let start = 0;
  if (s.length > 7 && s.charCodeAt(0) === 58 /* : */) {
    const lower = s.slice(0, 7).toLowerCase();
    if (lower !== '::ffff:') return null;
    start = 7;
  }
  let n = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = start; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || part > 255) return null;
      n = n * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      part = part * 10 + (c - 48);
      if (++digits > 3) return null;
    } else return null;
  }
  if (dots !== 3 || digits === 0 || part > 255) return null;
  return n * 256 + part;
}

function intToIpv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}
