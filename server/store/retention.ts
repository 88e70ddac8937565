/**
 * Retention of every table that holds personal data (docs/privacy.md, "How long"):
 * - violations that ended more than `days` ago, and open ones nothing was heard of for that
 *   long (an agent uninstalled mid-violation), with their events, nudges, reviews and reveals;
 * - events, nudges, reviews, reveals and exception claims older than `days` whatever they
 *   belong to (a nudge or claim for a violation whose events never came, rows left by an
 *   agent forgotten long ago);
 * - sessions once expired; login failures once out of the lock-out window (15 minutes:
 *   nothing reads them later; the audit keeps each failure); remembered sign-in addresses
 *   after 30 days (what the limits use them for);
 * - names seen (people) that no violation or nudge holds any more;
 * - the audit log after its own, longer period (`auditDays`, default 730): it is the record
 *   of who looked at what, kept longer so a clinician can still ask who saw their name.
 * Cooperative: small batches, each its own short transaction, with a turn of the event loop
 * between them, so agent acks and API requests are served while a year of rows goes.
 * On a SQLite file the store runs it in a worker thread with its own connection
 * (worker/store-worker.ts), so the server's loop is not held even for one batch.
 * Scheduled by retention-job.ts (at start and every 6 hours, once per cluster). The same on every OS.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Db } from './db.js';
import { createRollups } from './rollups.js';
import { LOCKOUT, SESSION } from './users.js';

export const RETENTION_BATCH = 500;
export const AUDIT_RETENTION_DAYS = 730;

export interface RetentionOptions {
  /** Violations and what hangs off them. */
  days: number;
  /** The audit log. */
  auditDays: number;
}

export type Pruned = Record<'violations' | 'events' | 'nudges' | 'reviews' | 'reveals' | 'exceptions' | 'sessions' | 'loginFailures' | 'loginKnown' | 'people' | 'audit', number>;

/** Runs `step` (one short transaction answering how many rows it deleted) until it deletes none. */
async function drain(step: () => number): Promise<number> {
  let total = 0;
  for (;;) {
    const n = step();
    if (n <= 0) return total;
    total += n;
    await nextTurn();
  }
}

/** Deletes ended (and long-silent open) violations older than `days`; answers how many. */
export async function pruneOnce(db: Db, days: number, now = Date.now(), batch = RETENTION_BATCH): Promise<number> {
  const cutoff = now - days * 86_400_000;
  const pick = db.prepare<[number, number, number], { seq: number; id: string; agent_id: string }>(
    `SELECT seq, id, agent_id FROM violations WHERE ended_at IS NOT NULL AND ended_at < ?
     UNION ALL SELECT seq, id, agent_id FROM violations WHERE ended_at IS NULL AND updated_at < ? LIMIT ?`,
  );
  const children = ['events', 'nudges', 'reviews', 'reveals'].map((t) => db.prepare(`DELETE FROM ${t} WHERE agent_id = ? AND violation_id = ?`));
  // Re-checked at delete time: between batches a late event may have reopened or refreshed a row.
  const delViolation = db.prepare('DELETE FROM violations WHERE seq = ? AND ((ended_at IS NOT NULL AND ended_at < ?) OR (ended_at IS NULL AND updated_at < ?))');
  const rollups = createRollups(db);
  let rowsSeen = 0;
  // IMMEDIATE: each batch reads before it deletes, beside the server's ingest (violations.ts ingest).
  const step = db.transaction((): number => rollups.batch(() => {
    const rows = pick.all(cutoff, cutoff, batch);
    rowsSeen = rows.length;
    let n = 0;
    for (const r of rows) {
      // The roll-ups lose what the violation counted (its day's rows go with their last violation).
      if (rollups.track(r.agent_id, r.id, () => delViolation.run(r.seq, cutoff, cutoff).changes) === 0) continue;
      for (const c of children) c.run(r.agent_id, r.id);
      n++;
    }
    return n;
  })).immediate;
  let total = 0;
  for (;;) {
    const n = step();
    total += n;
    if (rowsSeen === 0 || n === 0) return total;
    await nextTurn();
  }
}

/** A batched `DELETE ... WHERE rowid IN (SELECT rowid ... LIMIT)` for a table with a time column. */
function byTime(db: Db, table: string, key: string, where: string, batch: number) {
  const stmt = db.prepare(`DELETE FROM ${table} WHERE ${key} IN (SELECT ${key.replace(/[()]/g, '')} FROM ${table} WHERE ${where} LIMIT ${batch})`);
  return (...args: number[]) => drain(() => stmt.run(...args).changes);
}

/** Exception claims older than `cutoff`, in batches, each moving its violation's roll-ups. */
function pruneClaims(db: Db, cutoff: number, batch: number): Promise<number> {
  const pick = db.prepare<[number, number], { agent_id: string; violation_id: string }>('SELECT agent_id, violation_id FROM exceptions WHERE claimed_at < ? LIMIT ?');
  const del = db.prepare('DELETE FROM exceptions WHERE agent_id = ? AND violation_id = ?');
  const rollups = createRollups(db);
  const step = db.transaction((): number => rollups.batch(() => {
    let n = 0;
    for (const x of pick.all(cutoff, batch)) n += rollups.track(x.agent_id, x.violation_id, () => del.run(x.agent_id, x.violation_id).changes);
    return n;
  })).immediate;
  return drain(step);
}

/** One full pass over every table; answers what it deleted from each. */
export async function pruneAll(db: Db, opts: RetentionOptions, now = Date.now(), batch = RETENTION_BATCH): Promise<Pruned> {
  const cutoff = now - opts.days * 86_400_000;
  const out = {} as Pruned;
  out.violations = await pruneOnce(db, opts.days, now, batch);
  // WITHOUT ROWID tables are keyed by their primary key; (agent_id, id) pairs go as one value.
  out.events = await byTime(db, 'events', '(agent_id, id)', 'at < ?', batch)(cutoff);
  out.nudges = await byTime(db, 'nudges', '(agent_id, id)', 'at < ?', batch)(cutoff);
  out.reviews = await byTime(db, 'reviews', 'seq', 'at < ?', batch)(cutoff);
  out.reveals = await byTime(db, 'reveals', 'seq', 'at < ?', batch)(cutoff);
  // A claim follows its violation (trigger in migration 010); one whose violation never
  // arrived goes by its own age. One by one, as an erasure does: a claim of a violation
  // still kept (open, refreshed) leaves that violation's roll-ups too.
  out.exceptions = await pruneClaims(db, cutoff, batch);
  out.sessions = await byTime(db, 'sessions', 'id_hash', 'expires_at < ? OR last_seen < ?', batch)(now, now - SESSION.idleMs);
  out.loginFailures = await byTime(db, 'login_failures', 'rowid', 'at < ?', batch)(now - LOCKOUT.windowMs);
  out.loginKnown = await byTime(db, 'login_known', '(user_name, ip)', 'last_ok < ?', batch)(now - LOCKOUT.knownMs);
  out.people = await byTime(db, 'people', 'name', 'NOT EXISTS (SELECT 1 FROM violations v WHERE v.user = people.name) AND NOT EXISTS (SELECT 1 FROM nudges n WHERE n.user = people.name) AND first_seen < ?', batch)(now - 3600_000);
  out.audit = await byTime(db, 'audit', 'seq', 'at < ?', batch)(now - opts.auditDays * 86_400_000);
  return out;
}
