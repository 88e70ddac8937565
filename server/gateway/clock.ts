/**
 * Event times against the server's clock (README "Security"). An agent's clock may be off,
 * and an agent that holds the enrolment secret may lie, so `at` is checked on arrival:
 * - later than server time + the allowed skew (default 5 min): clamped to the server's time
 *   of receipt (a `started` dated 9999-12-31 would otherwise sit atop the feed for ever);
 *   the agent's own time is kept in the stored event as `agentAt`;
 * - earlier than the retention window: dropped (acked, not stored, counted), since retention
 *   would delete it at once; anything newer stays valid, so an agent offline for days, or
 *   weeks, still delivers its backlog with the times it saw.
 */
export interface ClockLimits {
  /** How far ahead of the server an event may be, in ms. */
  futureMs: number;
  /** How far back an event may be, in ms (the retention window). */
  pastMs: number;
}

export interface Checked<T> {
  kept: T[];
  clamped: number;
  expired: number;
}

export function checkTimes<T extends { at: string }>(items: readonly T[], limits: ClockLimits, now: number): Checked<T & { agentAt?: string }> {
  const out: Checked<T & { agentAt?: string }> = { kept: [], clamped: 0, expired: 0 };
  const latest = now + limits.futureMs;
  const earliest = now - limits.pastMs;
  for (const item of items) {
    const at = Date.parse(item.at);
    if (at > latest) {
      out.clamped++;
      out.kept.push({ ...item, at: new Date(now).toISOString(), agentAt: item.at });
    } else if (at < earliest) {
      out.expired++;
    } else {
      out.kept.push(item);
    }
  }
  return out;
}
