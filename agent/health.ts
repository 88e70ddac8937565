/**
 * The agent's health figures (sent with every heartbeat and kept in status.json) and the
 * one way it reports a failure of its own: logged once per streak (a warning when a streak
 * starts, an info line when it ends), counted every time, and the last one kept as text.
 * A failure never stops the agent: monitoring goes on and the next attempt may succeed.
 */
import { describe } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import type { HealthFigures } from '../shared/agent-state.js';

/** Which counter a failure adds to: collecting (a poll) or the agent's own files. */
export type FailureKind = 'collect' | 'state';

export function createHealth(log: Logger) {
  const counts = { pollMs: 0, polls: 0, collectErrors: 0, stateErrors: 0 };
  let lastError: string | null = null;
  const failing = new Set<string>();

  return {
    /**
     * `what` names the streak (e.g. "poll", "status file"); `hint` says what to do. The
     * warning carries the error as data; the kept text is short, for `status`.
     */
    failed(kind: FailureKind, what: string, err: unknown, hint: string): void {
      if (kind === 'collect') counts.collectErrors++;
      else counts.stateErrors++;
      lastError = `${what}: ${describe(err)}`;
      if (failing.has(what)) return;
      failing.add(what);
      log.warn({ err: describe(err), what }, `${what} failed; ${hint}`);
    },
    ok(what: string): void {
      if (failing.delete(what)) log.info({ what }, `${what} works again`);
    },
    pollDone(ms: number): void {
      counts.pollMs = Math.round(ms);
      counts.polls++;
    },
    figures(): Pick<HealthFigures, 'pollMs' | 'polls' | 'collectErrors' | 'stateErrors' | 'lastError'> {
      return { ...counts, lastError };
    },
  };
}

export type Health = ReturnType<typeof createHealth>;
