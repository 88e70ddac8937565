/**
 * A failure streak: the state of one thing that can fail and recover (a SIEM target, the
 * policy watcher, the store). The first failure of a streak is logged (warn), the rest
 * only counted; the recovery is logged once (info). Health and /metrics read the counts.
 */
import type { Logger } from '../../shared/log.js';

export type StreakState = 'ok' | 'failing' | 'connecting';

export interface StreakStatus {
  state: StreakState;
  /** ISO time the current state began (null before the first check). */
  since: string | null;
  /** Failed attempts over the process lifetime, and how many separate streaks they formed. */
  failures: number;
  streaks: number;
  /** The last failure as an errno-style code or our own words; never raw exception text. */
  lastError: string | null;
}

export interface Streak {
  fail(err: unknown, fields?: Record<string, unknown>): void;
  ok(): void;
  /** Not failed, not working yet (e.g. reconnecting after the peer closed cleanly). */
  pending(): void;
  status(): StreakStatus;
}

/** An errno code (ECONNREFUSED, EACCES...) or the error's class name: safe to show in /healthz. */
export function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^[A-Za-z0-9_]{1,40}$/.test(code)) return code;
  if (err instanceof Error) return err.name;
  return 'error';
}

export function createStreak(log: Logger, what: string, now: () => number = Date.now): Streak {
  let state: StreakState = 'connecting';
  let since: number | null = null;
  let failures = 0;
  let streaks = 0;
  let lastError: string | null = null;
  const enter = (next: StreakState) => {
    if (state !== next || since === null) since = now();
    state = next;
  };
  return {
    fail(err, fields = {}) {
      failures += 1;
      lastError = errorCode(err);
      if (state !== 'failing') {
        streaks += 1;
        // The full error goes to the log (operators), only its code to health (anyone).
        log.warn({ err, ...fields, streak: streaks }, `${what} failing; retrying (logged once until it recovers)`);
      }
      enter('failing');
    },
    ok() {
      if (state === 'failing') log.info({ failures, streak: streaks }, `${what} recovered`);
      enter('ok');
    },
    pending() {
      if (state === 'ok') enter('connecting');
    },
    status: () => ({ state, since: since === null ? null : new Date(since).toISOString(), failures, streaks, lastError }),
  };
}

/** Capped exponential back-off: 1x, 2x, 4x ... up to maxMs; reset() after a success. */
export function createBackoff(initialMs: number, maxMs: number) {
  let next = initialMs;
  return {
    next(): number {
      const d = next;
      next = Math.min(maxMs, next * 2);
      return d;
    },
    reset(): void {
      next = initialMs;
    },
  };
}
