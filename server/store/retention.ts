/**
 * Retention: violations that ended more than `days` ago are deleted with their events,
 * nudges and reviews. Cooperative: small batches, each its own short transaction, with a
 * turn of the event loop between them, so agent acks and API requests are served while a
 * year of rows goes (a single synchronous loop held the loop for the whole delete).
 * Runs at start and every 6 hours; one run at a time.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Logger } from '../../shared/log.js';
import type { Db } from './db.js';

export const RETENTION_BATCH = 500;

export async function pruneOnce(db: Db, days: number, now = Date.now(), batch = RETENTION_BATCH): Promise<number> {
  const cutoff = now - days * 86_400_000;
  const pick = db.prepare<[number, number], { seq: number; id: string; agent_id: string }>(
    'SELECT seq, id, agent_id FROM violations WHERE ended_at IS NOT NULL AND ended_at < ? LIMIT ?',
  );
  const delEvents = db.prepare('DELETE FROM events WHERE agent_id = ? AND violation_id = ?');
  const delNudges = db.prepare('DELETE FROM nudges WHERE agent_id = ? AND violation_id = ?');
  const delReviews = db.prepare('DELETE FROM reviews WHERE agent_id = ? AND violation_id = ?');
  // Re-checked at delete time: between batches a late event may have reopened a row.
  const delViolation = db.prepare('DELETE FROM violations WHERE seq = ? AND ended_at IS NOT NULL AND ended_at < ?');
  const step = db.transaction((): number => {
    const rows = pick.all(cutoff, batch);
    let n = 0;
    for (const r of rows) {
      if (delViolation.run(r.seq, cutoff).changes === 0) continue;
      delEvents.run(r.agent_id, r.id);
      delNudges.run(r.agent_id, r.id);
      delReviews.run(r.agent_id, r.id);
      n++;
    }
    return rows.length === 0 ? -1 : n;
  });
  let total = 0;
  for (;;) {
    const n = step();
    if (n < 0) return total;
    total += n;
    await nextTurn();
  }
}

export function startRetention(db: Db, days: number, log: Logger): () => void {
  let running = false;
  let stopped = false;
  const run = () => {
    if (running || stopped) return;
    running = true;
    pruneOnce(db, days)
      .then((n) => {
        if (n) log.info({ deleted: n, days }, 'retention: old violations deleted');
      })
      .catch((err: unknown) => {
        // The store closed under it at shutdown is not a failure worth a log line.
        if (!stopped) log.error({ err }, 'retention job failed; will retry');
      })
      .finally(() => (running = false));
  };
  const first = setTimeout(run, 5_000);
  const timer = setInterval(run, 6 * 3600_000);
  first.unref();
  timer.unref();
  return () => {
    stopped = true;
    clearTimeout(first);
    clearInterval(timer);
  };
}
