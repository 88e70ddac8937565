/**
 * Retention: violations that ended more than `days` ago are deleted with their events,
 * in small batches so ingest is never blocked for long. Runs at start and every 6 hours.
 */
import type { Logger } from '../../shared/log.js';
import type { Db } from './db.js';

const BATCH = 5000;

export function pruneOnce(db: Db, days: number, now = Date.now()): number {
  const cutoff = now - days * 86_400_000;
  const pick = db.prepare<[number, number], { seq: number; id: string; agent_id: string }>(
    'SELECT seq, id, agent_id FROM violations WHERE ended_at IS NOT NULL AND ended_at < ? LIMIT ?',
  );
  const delEvents = db.prepare('DELETE FROM events WHERE agent_id = ? AND violation_id = ?');
  const delViolation = db.prepare('DELETE FROM violations WHERE seq = ?');
  let total = 0;
  for (;;) {
    const rows = pick.all(cutoff, BATCH);
    if (rows.length === 0) return total;
    db.transaction(() => {
      for (const r of rows) {
        delEvents.run(r.agent_id, r.id);
        delViolation.run(r.seq);
      }
    })();
    total += rows.length;
  }
}

export function startRetention(db: Db, days: number, log: Logger): () => void {
  const run = () => {
    try {
      const n = pruneOnce(db, days);
      if (n) log.info({ deleted: n, days }, 'retention: old violations deleted');
    } catch (err) {
      log.error({ err }, 'retention job failed; will retry');
    }
  };
  const first = setTimeout(run, 5_000);
  const timer = setInterval(run, 6 * 3600_000);
  first.unref();
  timer.unref();
  return () => {
    clearTimeout(first);
    clearInterval(timer);
  };
}
