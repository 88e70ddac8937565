/**
 * The change feed across instances: PostgreSQL LISTEN/NOTIFY on one channel, listened to by
 * one dedicated connection per instance (not a pool client: a pooled connection would lose
 * its LISTEN when recycled). `notify` sends one NOTIFY (delivered to every listener at
 * commit, in commit order) and tells this instance's subscribers at once; a notification
 * from this instance coming back through LISTEN is skipped by its instance id.
 *
 * The listening connection reconnects by itself with capped back-off (250 ms doubling to
 * 5 s). Notifications sent while it was down are lost by PostgreSQL's design, so after
 * every reconnect each topic's subscribers are called without a payload: they re-read what
 * they cache (the contract of ChangeFeed), and nothing missed stays missed.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Logger } from '../../../shared/log.js';
import type { ChangeFeed, ChangeTopic } from '../types.js';
import { mapError, type PgDb } from './db.js';

export const CHANNEL = 'consultguard_changes';
const MAX_PAYLOAD = 4000;

/** Sends a notification inside the caller's transaction: PostgreSQL delivers it at COMMIT, and never when it rolls back. */
export type NotifyInTransaction = (c: pg.ClientBase, topic: ChangeTopic, payload: string) => Promise<void>;

export interface PgChangeFeed extends ChangeFeed {
  /**
   * For other instances only (this one's own subscribers are not called): what a transaction
   * changed is announced by that very transaction, so a commit and its notification stand or
   * fall together, even when the process is killed right after COMMIT.
   */
  notifyInTransaction: NotifyInTransaction;
  /** True while the listening connection is up (for /healthz and tests). */
  listening(): boolean;
  /** Resolves once the first LISTEN is in place (or failed, and a retry is scheduled). */
  ready: Promise<void>;
  close(): Promise<void>;
}

export function createPgChangeFeed(url: string, db: PgDb, log?: Logger): PgChangeFeed {
  const instance = randomUUID();
  const subs = new Map<ChangeTopic, Set<(payload?: string) => void>>();
  let client: pg.Client | null = null;
  let up = false;
  let closed = false;
  let delay = 250;
  let timer: NodeJS.Timeout | null = null;
  // Subscribers may subscribe before the first LISTEN is in place: unless that first try
  // succeeds, a later connect must make them re-read too (the database may have gone away
  // between the store opening and the LISTEN).
  let tries = 0;
  let warned = false;

  const dispatch = (topic: ChangeTopic, payload?: string) => {
    for (const cb of subs.get(topic) ?? []) {
      try {
        cb(payload);
      } catch (err) {
        log?.error({ err, topic }, 'a change feed subscriber failed');
      }
    }
  };

  function schedule(): void {
    if (closed || timer) return;
    timer = setTimeout(() => {
      timer = null;
      void connect();
    }, delay);
    timer.unref();
    delay = Math.min(delay * 2, 5_000);
  }

  async function connect(): Promise<void> {
    if (closed) return;
    tries++;
    const c = new pg.Client({ connectionString: url, application_name: 'consultguard-listen', keepAlive: true, connectionTimeoutMillis: 5_000 });
    const lost = () => {
      if (client !== c) return;
      client = null;
      up = false;
      c.removeAllListeners('notification');
      c.end().catch(() => {});
      if (!closed) {
        if (!warned) log?.warn({ where: db.where }, 'change feed: lost the listening connection to PostgreSQL; reconnecting with back-off');
        warned = true;
        schedule();
      }
    };
    c.on('error', lost);
    c.on('end', lost);
    c.on('notification', (msg) => {
      if (msg.channel !== CHANNEL || !msg.payload) return;
      try {
        const m = JSON.parse(msg.payload) as { i: string; t: ChangeTopic; p?: string };
        if (m.i !== instance) dispatch(m.t, m.p);
      } catch {
        // not one of ours
      }
    });
    client = c;
    try {
      await c.connect();
      await c.query(`LISTEN ${CHANNEL}`);
    } catch {
      lost();
      return;
    }
    if (closed) {
      await c.end().catch(() => {});
      return;
    }
    up = true;
    delay = 250;
    if (warned) log?.info({ where: db.where }, 'change feed: listening again; every topic re-reads');
    warned = false;
    // What was sent while we were not listening is gone: every subscriber re-reads.
    if (tries > 1) for (const topic of subs.keys()) dispatch(topic);
  }

  const ready = connect();

  return {
    subscribe(topic, cb) {
      let set = subs.get(topic);
      if (!set) subs.set(topic, (set = new Set()));
      set.add(cb);
      return () => void set.delete(cb);
    },
    async notify(topic, payload) {
      if (payload !== undefined && Buffer.byteLength(payload) > MAX_PAYLOAD) throw new RangeError(`change feed payload over ${MAX_PAYLOAD} bytes`);
      try {
        await db.pool.query('SELECT pg_notify($1, $2)', [CHANNEL, JSON.stringify({ i: instance, t: topic, ...(payload === undefined ? {} : { p: payload }) })]);
      } catch (err) {
        mapError(err, db.where);
      } finally {
        // This instance hears of its own change even while the database is away.
        dispatch(topic, payload);
      }
    },
    async notifyInTransaction(c, topic, payload) {
      if (Buffer.byteLength(payload) > MAX_PAYLOAD) throw new RangeError(`change feed payload over ${MAX_PAYLOAD} bytes`);
      await c.query('SELECT pg_notify($1, $2)', [CHANNEL, JSON.stringify({ i: instance, t: topic, p: payload })]);
    },
    listening: () => up,
    ready,
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      await ready;
      const c = client;
      client = null;
      up = false;
      if (c) await c.end().catch(() => {});
    },
  };
}
