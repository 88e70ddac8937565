/**
 * PostgreSQL migrations, numbered like SQLite's (server/store/migrations/) and applied the
 * same way: in order, all pending ones in one transaction, under an advisory lock (see
 * ../migrate.ts) so two instances starting together never apply one twice.
 *
 * The rule for SQLite migrations 012 and later: every one needs a PostgreSQL twin here,
 * numbered in this sequence (001 already holds SQLite 001-011), which leaves both schemas
 * with the same tables, columns and constraints. Types: bigint milliseconds for times,
 * bigint identity for SQLite rowid keys, text for JSON the code reads whole; quote `"user"`
 * and `"by"`; COLLATE NOCASE becomes lower() in a unique index and in the queries.
 * `sqliteVersion` names the SQLite migration each one matches: `migrate --to postgres://`
 * refuses a source that is newer than the target knows. Never edit a shipped migration.
 */
import * as m001 from './001_initial.js';
import * as m002 from './002_instances.js';
import * as m003 from './003_sso.js';
import * as m004 from './004_violation_changes.js';
import * as m005 from './005_rollups.js';
import * as m006 from './006_presence.js';

export interface PgMigration {
  version: number;
  name: string;
  sql: string;
  /** The SQLite schema version this PostgreSQL version is equal to. */
  sqliteVersion: number;
}

export const pgMigrations: PgMigration[] = [
  { version: 1, sqliteVersion: 11, ...m001 },
  { version: 2, sqliteVersion: 12, ...m002 },
  { version: 3, sqliteVersion: 13, ...m003 },
  { version: 4, sqliteVersion: 14, ...m004 },
  { version: 5, sqliteVersion: 15, ...m005 },
  { version: 6, sqliteVersion: 16, ...m006 },
];
