/** The gateway's pure limits: per-agent quota buckets (injected clock) and the event-time window. */
import { describe, expect, it } from 'vitest';
import { checkTimes } from '../../server/gateway/clock.js';
import { createQuotas } from '../../server/gateway/quota.js';
import { isLoopbackHost } from '../../shared/net.js';

describe('per-agent quota buckets', () => {
  it('admits a window\'s worth, refuses the rest with a retry time, and refills over the window', () => {
    let t = 0;
    const q = createQuotas({ eventsPerWindow: 10, bytesPerWindow: 1000, windowMs: 10_000 }, () => t);
    expect(q.take('a', 10, 100)).toEqual({ ok: true });
    expect(q.take('a', 2, 10)).toEqual({ ok: false, kind: 'events', retryAfterSec: 2 });
    expect(q.take('b', 2, 10)).toEqual({ ok: true }); // per agent
    t = 2000;
    expect(q.take('a', 2, 10)).toEqual({ ok: true });
    expect(q.take('c', 1, 900)).toEqual({ ok: true });
    expect(q.take('c', 1, 200)).toEqual({ ok: false, kind: 'bytes', retryAfterSec: 1 });
  });

  it('always admits one frame into a full bucket, so a quota below one batch cannot wedge an outbox', () => {
    let t = 0;
    const q = createQuotas({ eventsPerWindow: 5, bytesPerWindow: 1000, windowMs: 1000 }, () => t);
    expect(q.take('a', 50, 100)).toEqual({ ok: true });
    const refused = q.take('a', 50, 100);
    expect(refused).toMatchObject({ ok: false, kind: 'events' });
    t += 11_000; // 45 events of debt paid off, and full again
    expect(q.take('a', 50, 100)).toEqual({ ok: true });
  });

  it('prunes agents whose buckets are full again', () => {
    let t = 0;
    const q = createQuotas({ eventsPerWindow: 5, bytesPerWindow: 1000, windowMs: 1000 }, () => t);
    q.take('a', 5, 10);
    q.prune();
    expect(q.size()).toBe(1);
    t = 1000;
    q.prune();
    expect(q.size()).toBe(0);
  });
});

describe('event times', () => {
  const now = Date.parse('2026-12-02T00:00:00Z');
  const limits = { futureMs: 300_000, pastMs: 30 * 86_400_000 };
  it('clamps the far future to now, keeps skew and the past within retention, drops older', () => {
    const r = checkTimes([
      { at: '9999-12-31T23:59:59Z' },
      { at: '2026-12-02T00:04:00Z' },
      { at: '2026-11-05T00:00:00Z' },
      { at: '2026-10-01T00:00:00Z' },
    ], limits, now);
    expect(r.kept).toEqual([
      { at: '2026-12-02T00:00:00.000Z', agentAt: '9999-12-31T23:59:59Z' },
      { at: '2026-12-02T00:04:00Z' },
      { at: '2026-11-05T00:00:00Z' },
    ]);
    expect(r).toMatchObject({ clamped: 1, expired: 1 });
  });
});

describe('loopback hosts', () => {
  it.each([
    ['localhost', true], ['LOCALHOST.', true], ['127.0.0.1', true], ['127.255.1.2', true], ['::1', true], ['[::1]', true],
    ['[::ffff:127.0.0.1]', true], ['127.attacker.example', false], ['localhost.attacker.example', false], ['x.localhost', false],
    ['10.0.0.1', false], ['126.255.255.255', false], ['128.0.0.1', false], ['::', false], ['[::2]', false],
  ])('%s -> %s', (host, loopback) => {
    expect(isLoopbackHost(host)).toBe(loopback);
  });
});
