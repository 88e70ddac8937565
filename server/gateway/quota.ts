/**
 * Per-agent storage quotas: events and bytes per hour (README "Security"). Each agent has
 * two token buckets that refill continuously at quota/window and hold at most one window's
 * quota, so an agent back from days offline drains its backlog at the quota's pace instead
 * of all at once. Buckets are keyed by agent id, not by connection, so reconnecting does not
 * refill them; they live in memory (a server restart starts every agent full).
 *
 * A frame that does not fit is refused without an ack: the agent keeps the batch in its
 * outbox and sends it again after `retryAfterSec`, so nothing is lost. A full bucket always
 * admits one frame, whatever its size, so a quota set below one batch slows an agent down
 * but can never wedge its outbox.
 */
export interface QuotaOptions {
  eventsPerWindow: number;
  bytesPerWindow: number;
  windowMs: number;
}

interface Buckets {
  events: number;
  bytes: number;
  at: number;
}

export type QuotaVerdict = { ok: true } | { ok: false; kind: 'events' | 'bytes'; retryAfterSec: number };

export function createQuotas(opts: QuotaOptions, now: () => number = Date.now) {
  const buckets = new Map<string, Buckets>();

  function refill(b: Buckets, t: number): void {
    const elapsed = Math.max(0, t - b.at);
    b.events = Math.min(opts.eventsPerWindow, b.events + (elapsed * opts.eventsPerWindow) / opts.windowMs);
    b.bytes = Math.min(opts.bytesPerWindow, b.bytes + (elapsed * opts.bytesPerWindow) / opts.windowMs);
    b.at = t;
  }

  /** Seconds until `have` grows to `need` (or to full) at `perWindow` per window. */
  function wait(have: number, need: number, perWindow: number): number {
    const target = Math.min(need, perWindow);
    return Math.max(1, Math.ceil(((target - have) * opts.windowMs) / perWindow / 1000));
  }

  return {
    /** Charges a frame of `events` items and `bytes` bytes to the agent, or says why not. */
    take(agentId: string, events: number, bytes: number): QuotaVerdict {
      const t = now();
      let b = buckets.get(agentId);
      if (!b) {
        b = { events: opts.eventsPerWindow, bytes: opts.bytesPerWindow, at: t };
        buckets.set(agentId, b);
      }
      refill(b, t);
      const eventsFull = b.events >= opts.eventsPerWindow;
      const bytesFull = b.bytes >= opts.bytesPerWindow;
      if (b.events < events && !eventsFull) return { ok: false, kind: 'events', retryAfterSec: wait(b.events, events, opts.eventsPerWindow) };
      if (b.bytes < bytes && !bytesFull) return { ok: false, kind: 'bytes', retryAfterSec: wait(b.bytes, bytes, opts.bytesPerWindow) };
      b.events -= events;
      b.bytes -= bytes;
      return { ok: true };
    },
    /** Forgets agents whose buckets are full again (as good as new): keeps the map small. */
    prune(): void {
      const t = now();
      for (const [id, b] of buckets) {
        refill(b, t);
        if (b.events >= opts.eventsPerWindow && b.bytes >= opts.bytesPerWindow) buckets.delete(id);
      }
    },
    size: (): number => buckets.size,
  };
}

export type Quotas = ReturnType<typeof createQuotas>;
