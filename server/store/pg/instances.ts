/**
 * The instances table on PostgreSQL (migration 002; SQLite: ../instances.ts). The instances
 * are separate machines here, so `seen_at` and the cut-off are the database's clock, not
 * each machine's: one whose clock is off neither vanishes from the list nor lingers in it.
 */
import { parseVersions, type InstanceRow } from '../instances.js';
import type { InstanceStore } from '../types.js';
import type { PgDb } from './db.js';

const DB_NOW = '(extract(epoch FROM clock_timestamp()) * 1000)::bigint';

export function createPgInstanceStore(db: PgDb): InstanceStore {
  return {
    async record(r) {
      await db.query(
        `INSERT INTO instances (instance_id, host, policy_versions, started_at, seen_at) VALUES ($1, $2, $3, $4, ${DB_NOW})
         ON CONFLICT (instance_id) DO UPDATE SET host = excluded.host, policy_versions = excluded.policy_versions, seen_at = excluded.seen_at`,
        [r.instanceId, r.host, JSON.stringify(r.policyVersions), r.startedAt],
      );
    },
    async live(maxAgeMs): Promise<InstanceRow[]> {
      await db.query(`DELETE FROM instances WHERE seen_at < ${DB_NOW} - $1`, [maxAgeMs]);
      const rows = (await db.query<{ instance_id: string; host: string; policy_versions: string; started_at: string; seen_at: string }>(
        `SELECT instance_id, host, policy_versions, started_at, seen_at FROM instances WHERE seen_at >= ${DB_NOW} - $1 ORDER BY started_at, instance_id`,
        [maxAgeMs],
      )).rows;
      return rows.map((r) => ({ instanceId: r.instance_id, host: r.host, policyVersions: parseVersions(r.policy_versions), startedAt: Number(r.started_at), seenAt: Number(r.seen_at) }));
    },
    async remove(instanceId) {
      await db.query('DELETE FROM instances WHERE instance_id = $1', [instanceId]);
    },
  };
}
