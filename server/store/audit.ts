/** The audit log: who logged in, viewed, exported or acknowledged what, and when. */
import type { Db } from './db.js';

export function createAuditStore(db: Db, now: () => number = Date.now) {
  const insert = db.prepare('INSERT INTO audit (at, actor, action, detail) VALUES (?, ?, ?, ?)');
  return {
    record(actor: string, action: string, detail: Record<string, unknown> = {}): void {
      insert.run(now(), actor, action, JSON.stringify(detail));
    },
    list(limit: number, before?: number) {
      const rows = db.prepare<[number, number], { seq: number; at: number; actor: string; action: string; detail: string }>(
        'SELECT * FROM audit WHERE seq < ? ORDER BY seq DESC LIMIT ?',
      ).all(before ?? Number.MAX_SAFE_INTEGER, limit);
      return rows.map((r) => ({ seq: r.seq, at: new Date(r.at).toISOString(), actor: r.actor, action: r.action, detail: JSON.parse(r.detail) as Record<string, unknown> }));
    },
  };
}

export type AuditStore = ReturnType<typeof createAuditStore>;
