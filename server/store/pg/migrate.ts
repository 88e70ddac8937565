/**
 * Brings a PostgreSQL store's schema up to date: every pending migration, in order, in one
 * transaction holding an advisory lock, so two instances starting together on an empty
 * database serialise here (the second waits, then finds nothing to do) instead of both
 * creating the tables. A failure rolls the whole step back: the schema is never half-made.
 */
import type { PgDb } from './db.js';
import { pgMigrations } from './migrations/index.js';

/** The advisory lock key of schema changes ('cgmigrat' as a number; any fixed value would do). */
export const MIGRATION_LOCK = 0x63676d69;

export const LATEST_PG = Math.max(...pgMigrations.map((m) => m.version));

/** Applies what is missing; answers the versions it applied. */
export async function migratePg(db: PgDb, now: () => number = Date.now): Promise<number[]> {
  return db.tx(async (c) => {
    await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await c.query('CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL)');
    const applied = new Set((await c.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
    const done: number[] = [];
    for (const m of pgMigrations) {
      if (applied.has(m.version)) continue;
      await c.query(m.sql);
      await c.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, now()]);
      done.push(m.version);
    }
    return done;
  });
}
