/**
 * Periodic jobs once per cluster: `runExclusive` takes a session advisory lock named after
 * the job with pg_try_advisory_lock on a connection it holds while the job runs; another
 * instance trying the same job meanwhile gets false and skips this round. The lock goes
 * with the connection, so an instance killed mid-job frees it at once (PostgreSQL ends the
 * session). A job that outlives its connection may overlap a second run: jobs here are
 * idempotent (retention re-checks rows at delete time; alert firings are once-only rows).
 */
import type { ClusterJobs } from '../types.js';
import { connect, mapError, type PgDb } from './db.js';

/** The first key of every job lock ('cj'), so job locks never meet other advisory locks. */
const JOB_CLASS = 0x636a;

export function createPgJobs(db: PgDb): ClusterJobs {
  return {
    async runExclusive(name, fn) {
      const client = await connect(db);
      let broken = false;
      try {
        const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', [JOB_CLASS, name]);
        if (!rows[0]?.ok) return false;
        try {
          await fn();
        } finally {
          await client.query('SELECT pg_advisory_unlock($1, hashtext($2))', [JOB_CLASS, name]).catch(() => (broken = true));
        }
        return true;
      } catch (err) {
        if ((err as { code?: string }).code !== undefined && !(err instanceof Error && err.name === 'AppError')) broken = true;
        return mapError(err, db.where);
      } finally {
        client.release(broken);
      }
    },
  };
}
