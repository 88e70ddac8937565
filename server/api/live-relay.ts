/**
 * The live feed across instances: several servers on one store each publish to their own
 * dashboards what their own agents sent (right after the ack), and this relay adds what the
 * others committed, so a dashboard on instance A sees within about a second the violations
 * that agents connected to B sent, B's last ones before it died included (they are in the
 * store, and that is all the relay reads).
 *
 * Every `pollMs` it asks the store what changed since its cursor, minus `lookbackMs` (another
 * instance's transaction stamps its rows before it commits, so a later poll may find rows
 * older than the newest it has seen). What it or this instance already published, at that
 * change or later, is not sent again. `changed()` lets an engine skip the query when nothing
 * was committed elsewhere (SQLite's data_version); `get` reads a violation as the feed shows it.
 */
import type { Logger } from '../../shared/log.js';
import type { ChangeKey, Violation } from '../store/violations.js';
import type { LiveFeed } from './live.js';

export interface RelayDeps {
  live: Pick<LiveFeed, 'publish'>;
  /** Changes after `after`, in (updatedAt, agentId, id) order, up to `limit`. */
  changedSince(after: ChangeKey, limit: number): ChangeKey[];
  get(agentId: string, id: string): Violation | null;
  /** False when nothing was committed by another process since the last call (skip the query). */
  changed?: () => boolean;
  now?: () => number;
  log: Logger;
  pollMs?: number;
  lookbackMs?: number;
}

export const RELAY_DEFAULTS = { pollMs: 500, lookbackMs: 2000, batch: 1000 };

const keyOf = (agentId: string, id: string) => `${agentId}\u0000${id}`;

export function createLiveRelay(deps: RelayDeps) {
  const { pollMs, lookbackMs, batch } = { ...RELAY_DEFAULTS, ...deps };
  const now = deps.now ?? Date.now;
  /** key -> the newest change of it already published (its updated_at, or when this instance published it). */
  const shown = new Map<string, number>();
  let cursor = now();
  let failing = false;

  const mark = (key: string, at: number) => {
    shown.delete(key); // re-inserted at the end: the map stays ordered by time, oldest first
    shown.set(key, at);
  };
  const prune = () => {
    const before = cursor - lookbackMs;
    for (const [key, at] of shown) {
      if (at >= before) break;
      shown.delete(key);
    }
  };

  function poll(): void {
    if (deps.changed && !deps.changed()) return;
    let after: ChangeKey = { updatedAt: cursor - lookbackMs, agentId: '', id: '' };
    for (;;) {
      const rows = deps.changedSince(after, batch);
      const fresh: Violation[] = [];
      for (const r of rows) {
        const key = keyOf(r.agentId, r.id);
        if ((shown.get(key) ?? -Infinity) >= r.updatedAt) continue;
        mark(key, r.updatedAt);
        const v = deps.get(r.agentId, r.id);
        if (v) fresh.push(v);
      }
      if (fresh.length) deps.live.publish(fresh);
      const last = rows[rows.length - 1];
      if (!last) break;
      cursor = Math.max(cursor, last.updatedAt);
      after = last;
      if (rows.length < batch) break;
    }
    prune();
  }

  const timer = setInterval(() => {
    try {
      poll();
      failing = false;
    } catch (err) {
      if (!failing) deps.log.warn({ err }, 'live relay could not read the store; retrying');
      failing = true;
    }
  }, pollMs);
  timer.unref();

  return {
    /** Publishes what this instance ingested (right after the ack) and remembers it was shown. */
    publish(violations: Violation[]): void {
      const at = now();
      for (const v of violations) mark(keyOf(v.agentId, v.id), at);
      deps.live.publish(violations);
    },
    /** One poll now (tests). */
    poll,
    close(): void {
      clearInterval(timer);
    },
  };
}

export type LiveRelay = ReturnType<typeof createLiveRelay>;
