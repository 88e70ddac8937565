/** The audit log on PostgreSQL (audit.ts): one insert per entry (a prepared statement: every feed view by a person writes one); detail kept as JSON text. */
import type { AuditStore } from '../types.js';
import type { PgDb } from './db.js';

export function createPgAuditStore(db: PgDb, now: () => number = Date.now): AuditStore {
  return {
    async record(actor: string, action: string, detail: Record<string, unknown> = {}): Promise<void> {
      let text: string;
      try {
        text = JSON.stringify(detail);
      } catch {
        text = JSON.stringify({ note: 'detail could not be serialised' });
      }
      await db.prepared('INSERT INTO audit (at, actor, action, detail) VALUES ($1, $2, $3, $4)', [now(), actor, action, text]);
    },
    async list(limit: number, before?: number) {
      const { rows } = await db.query<{ seq: number; at: number; actor: string; action: string; detail: string }>(
        'SELECT * FROM audit WHERE seq < $1 ORDER BY seq DESC LIMIT $2', [before ?? Number.MAX_SAFE_INTEGER, limit],
      );
      return rows.map((r) => ({ seq: r.seq, at: new Date(r.at).toISOString(), actor: r.actor, action: r.action, detail: JSON.parse(r.detail) as Record<string, unknown> }));
    },
  };
}
