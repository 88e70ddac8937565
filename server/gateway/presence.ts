/**
 * Agent presence across instances (issue 15): "online" means a live instance on this store
 * holds the agent's socket, whichever instance is asked. Each instance records the agents it
 * holds (store presence table) in batches: connects and disconnects are gathered for
 * `flushMs` and written in one transaction, and nothing is written while an agent stays
 * connected; the instance's own heartbeat (the instances table, health/instances.ts) keeps
 * its rows valid. Every `intervalMs` the instance reads which agents the other live
 * instances hold, and checks that the store's count of its own rows matches its sockets
 * (rows lost to a failed write, or pruned while this instance was cut off from the store,
 * are rewritten whole then).
 *
 * An instance killed -9 leaves its rows behind; they stop counting once its heartbeat is
 * older than 3 intervals, and are deleted by the next reader. An agent connected to two
 * instances at once (the old link half-open during a failover) has a row on each, so it
 * stays online when either closes.
 */
import { describe } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { PresenceStore } from '../store/types.js';

export interface PresenceOptions {
  store: PresenceStore;
  instanceId: string;
  /** The agents this instance holds right now (the gateway's registry). */
  local: () => Iterable<string>;
  log: Logger;
  /** The instances' heartbeat (5 s): the others' agents are read this often; an instance silent for 3 is gone. */
  intervalMs?: number;
  /** How long connects and disconnects are gathered before one write (500 ms). */
  flushMs?: number;
}

export function createPresence(opts: PresenceOptions) {
  const intervalMs = opts.intervalMs ?? 5000;
  const flushMs = opts.flushMs ?? 500;
  /** agent id -> held (true) or released (false) since the last write. */
  const pending = new Map<string, boolean>();
  let elsewhere = new Set<string>();
  /** The store's rows may not match the sockets (a write failed): rewrite them whole. */
  let dirty = false;
  let failing = false;
  let stopped = false;
  let flushTimer: NodeJS.Timeout | undefined;
  let beatTimer: NodeJS.Timeout | undefined;
  // One store operation at a time, in order: a count read between two writes would mislead.
  let queue: Promise<void> = Promise.resolve();

  const serial = (fn: () => Promise<void>): Promise<void> => {
    queue = queue.then(fn).then(() => {
      if (failing) opts.log.info('agent presence written again');
      failing = false;
    }, (err: unknown) => {
      dirty = true;
      if (!failing) opts.log.warn({ err: describe(err) }, 'cannot record which agents this instance holds; other instances may show them offline until the store answers');
      failing = true;
    });
    return queue;
  };

  function schedule(): void {
    if (flushTimer || stopped) return;
    flushTimer = setTimeout(() => {
      flushTimer = undefined;
      void flush();
    }, flushMs);
    flushTimer.unref();
  }

  /**
   * Writes what changed since the last write (everything, after a failure). With `check`,
   * also compares the store's count of this instance's rows with its sockets as they were
   * when the write was taken (later changes wait in `pending`: one operation at a time).
   */
  function write(check: boolean): Promise<void> {
    return serial(async () => {
      const mine = [...opts.local()];
      const changes = [...pending];
      pending.clear();
      if (dirty) {
        dirty = false;
        await opts.store.replace(opts.instanceId, mine);
      } else if (changes.length) {
        await opts.store.update(opts.instanceId, {
          held: changes.filter(([, on]) => on).map(([id]) => id),
          released: changes.filter(([, on]) => !on).map(([id]) => id),
        });
      }
      if (!check) return;
      if ((await opts.store.count(opts.instanceId)) !== mine.length) await opts.store.replace(opts.instanceId, mine);
      elsewhere = new Set(await opts.store.elsewhere(opts.instanceId, intervalMs * 3));
    });
  }
  const flush = () => write(false);
  /** Writes pending changes, checks this instance's rows, and reads the other instances' agents. */
  const refresh = () => write(true);

  return {
    /** This instance now holds the agent's socket. */
    held(agentId: string): void {
      pending.set(agentId, true);
      schedule();
    },
    /** This instance no longer holds it. */
    released(agentId: string): void {
      pending.set(agentId, false);
      schedule();
    },
    /** Held by another live instance, as of the last refresh (at most `intervalMs` old). */
    elsewhere: (agentId: string): boolean => elsewhere.has(agentId),
    refresh,
    start(): void {
      void refresh();
      beatTimer = setInterval(() => void refresh(), intervalMs);
      beatTimer.unref();
    },
    /** After the gateway closed its sockets: this instance's rows go at once (best effort; otherwise they expire). */
    async stop(): Promise<void> {
      stopped = true;
      clearTimeout(flushTimer);
      clearInterval(beatTimer);
      pending.clear();
      await queue;
      await opts.store.replace(opts.instanceId, []).catch(() => {});
    },
  };
}

export type Presence = ReturnType<typeof createPresence>;
