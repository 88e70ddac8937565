import { describe, expect, it } from 'vitest';
import { PrefixTable, ipv4Number } from '../../agent/detect/prefix-table.js';

const merge = (a: string, b: string) => `${a}+${b}`;

describe('PrefixTable', () => {
  const t = new PrefixTable<string>();
  t.add('170.114.0.0/16', 'zoom', merge);
  t.add('170.114.10.0/24', 'zoom-media', merge);
  t.add('17.0.0.0/8', 'apple', merge);
  t.add('2a03:2880::/32', 'meta6', merge);
  t.add('2407:30c0:180::/48', 'zoom6', merge);
  t.add('0.0.0.0/0', 'any4', merge);

  it('finds the longest matching IPv4 prefix', () => {
    expect(t.lookup('170.114.10.20')).toBe('zoom-media');
    expect(t.lookup('170.114.99.1')).toBe('zoom');
    expect(t.lookup('17.253.1.1')).toBe('apple');
    expect(t.lookup('8.8.8.8')).toBe('any4');
  });

  it('matches IPv6 and IPv4-mapped IPv6 addresses', () => {
    expect(t.lookup('2a03:2880:f12c:83:face:b00c:0:25de')).toBe('meta6');
    expect(t.lookup('2407:30c0:180:1::5')).toBe('zoom6');
    expect(t.lookup('2407:30c0:181::5')).toBeNull();
    expect(t.lookup('::ffff:170.114.10.20')).toBe('zoom-media');
    expect(t.lookup('::FFFF:17.1.2.3')).toBe('apple');
  });

  it('returns null for non-addresses and rejects bad CIDRs', () => {
    expect(t.lookup('not-an-ip')).toBeNull();
    expect(t.lookup('999.1.1.1')).toBeNull();
    expect(new PrefixTable<string>().add('170.114.0.0/33', 'x', merge)).toBe(false);
    expect(new PrefixTable<string>().add('zoom.us/16', 'x', merge)).toBe(false);
  });

  it('merges values of identical prefixes', () => {
    const m = new PrefixTable<string>();
    m.add('157.240.0.0/16', 'whatsapp', merge);
    m.add('157.240.0.0/16', 'messenger', merge);
    expect(m.lookup('157.240.1.1')).toBe('whatsapp+messenger');
  });

  it('parses dotted quads strictly', () => {
    expect(ipv4Number('1.2.3.4')).toBe(0x01020304);
    expect(ipv4Number('255.255.255.255')).toBe(0xffffffff);
    expect(ipv4Number('1.2.3')).toBeNull();
    expect(ipv4Number('1.2.3.4.5')).toBeNull();
    expect(ipv4Number('1.2.3.256')).toBeNull();
    expect(ipv4Number('1..3.4')).toBeNull();
  });
});
