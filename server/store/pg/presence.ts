/**
 * The presence table on PostgreSQL (migration 006; SQLite: ../presence.ts). Batches are one
 * statement each (arrays), and "fresh" is judged on the database's clock, as the instances
 * table's `seen_at` is (./instances.ts).
 */
import type { PresenceStore } from '../types.js';
import type { PgDb } from './db.js';

const DB_NOW = '(extract(epoch FROM clock_timestamp()) * 1000)::bigint';

export function createPgPresenceStore(db: PgDb): PresenceStore {
  return {
    async update(instanceId, { held, released }) {
      await db.tx(async (c) => {
        if (released.length) await c.query('DELETE FROM presence WHERE instance_id = $1 AND agent_id = ANY($2::text[])', [instanceId, released]);
        if (held.length) await c.query('INSERT INTO presence (instance_id, agent_id) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING', [instanceId, held]);
      });
    },
    async replace(instanceId, held) {
      await db.tx(async (c) => {
        await c.query('DELETE FROM presence WHERE instance_id = $1', [instanceId]);
        if (held.length) await c.query('INSERT INTO presence (instance_id, agent_id) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING', [instanceId, held]);
      });
    },
    async count(instanceId) {
      return (await db.query<{ n: number }>('SELECT count(*) AS n FROM presence WHERE instance_id = $1', [instanceId])).rows[0]?.n ?? 0;
    },
    async elsewhere(instanceId, maxAgeMs) {
      await db.query('DELETE FROM presence p WHERE NOT EXISTS (SELECT 1 FROM instances i WHERE i.instance_id = p.instance_id)');
      const rows = (await db.query<{ agent_id: string }>(
        `SELECT p.agent_id FROM presence p JOIN instances i ON i.instance_id = p.instance_id WHERE i.seen_at >= ${DB_NOW} - $1 AND p.instance_id <> $2`,
        [maxAgeMs, instanceId],
      )).rows;
      return [...new Set(rows.map((r) => r.agent_id))]; // no DISTINCT: a Set is cheaper than the sort
    },
  };
}
