/**
 * The live feed across SQLite instances: several servers on one SQLite file each publish to
 * their own dashboards what their own agents sent (right after the ack), but SQLite's change
 * feed only says "another connection committed", not what. On that word this relay reads what
 * changed since its cursor, so a dashboard on instance A sees within about a second (the
 * change poll) the violations that agents connected to B sent, B's last ones before it died
 * included: they are in the store, and that is all the relay reads. (PostgreSQL instances
 * name the violations in their NOTIFY and need no relay.)
 *
 * Each catch-up reads changes after its cursor minus `lookbackMs` (another instance stamps
 * its rows before it commits, so a later read may find rows older than the newest seen), but
 * none stamped before this relay started: those are in any page a dashboard loads, and any
 * other connection's commit (a roll-up rebuild's worker, the CLI) wakes the relay, which would
 * otherwise send the last `lookbackMs` of rows written before the start again, in one burst.
 * What it or this instance already published (`publish`: ingest, reviews, exception
 * decisions), at that change or later, is not sent again.
 */
import type { Logger } from '../../shared/log.js';
import type { ChangeKey, Violation } from '../store/violations.js';
import type { LiveFeed } from './live.js';

export interface RelayDeps {
  live: Pick<LiveFeed, 'publish'>;
  /** Changes after `after`, in (updatedAt, agentId, id) order, up to `limit`. */
  changedSince(after: ChangeKey, limit: number): Promise<ChangeKey[]>;
  get(agentId: string, id: string): Promise<Violation | null>;
  now?: () => number;
  log: Logger;
  lookbackMs?: number;
}

export const RELAY_DEFAULTS = { lookbackMs: 2000, batch: 1000 };

const keyOf = (agentId: string, id: string) => `${agentId}\u0000${id}`;

export function createLiveRelay(deps: RelayDeps) {
  const { lookbackMs, batch } = { ...RELAY_DEFAULTS, ...deps };
  const now = deps.now ?? Date.now;
  /** key -> the newest change of it already published (its updated_at, or when this instance published it). */
  const shown = new Map<string, number>();
  const startedAt = now();
  let cursor = startedAt;
  let running: Promise<void> | null = null;
  let again = false;
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

  async function read(): Promise<void> {
    let after: ChangeKey = { updatedAt: Math.max(cursor - lookbackMs, startedAt - 1), agentId: '', id: '' };
    for (;;) {
      const rows = await deps.changedSince(after, batch);
      const fresh: Array<Promise<Violation | null>> = [];
      for (const r of rows) {
        const key = keyOf(r.agentId, r.id);
        if ((shown.get(key) ?? -Infinity) >= r.updatedAt) continue;
        mark(key, r.updatedAt);
        fresh.push(deps.get(r.agentId, r.id));
      }
      const found = (await Promise.all(fresh)).filter((v) => v !== null);
      if (found.length) deps.live.publish(found);
      const last = rows[rows.length - 1];
      if (!last) break;
      cursor = Math.max(cursor, last.updatedAt);
      after = last;
      if (rows.length < batch) break;
    }
    prune();
  }

  /** Reads what others committed; one read at a time (a call during one runs once more after it). */
  function catchUp(): Promise<void> {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        try {
          await read();
          failing = false;
        } catch (err) {
          if (!failing) deps.log.warn({ err }, 'live relay could not read the store; retrying at the next change');
          failing = true;
        }
      } while (again);
      running = null;
    })();
    return running;
  }

  return {
    /** Publishes what this instance ingested (right after the ack) and remembers it was shown. */
    publish(violations: Violation[]): void {
      const at = now();
      for (const v of violations) mark(keyOf(v.agentId, v.id), at);
      deps.live.publish(violations);
    },
    catchUp,
  };
}

export type LiveRelay = ReturnType<typeof createLiveRelay>;
