/**
 * Opens the SQLite store and brings its schema up to date.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { AppError } from '../../shared/errors.js';
import { migrations } from './migrations/index.js';

export type Db = Database.Database;

export function openDb(file: string): Db {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  let db: Db;
  try {
    db = new Database(file);
  } catch (err) {
    throw new AppError('store_unavailable', `cannot open the store at ${file}: ${(err as Error).message}; check the --data folder exists and is writable`, { cause: err });
  }
  // WAL: readers (API, dashboard) never block the writer (ingest), and a commit is one
  // sequential append.
  db.pragma('journal_mode = WAL');
  // NORMAL in WAL mode: a commit survives a process crash (kill -9); only an OS crash or
  // power loss can lose the last transactions, and never corrupts the file. Agents keep
  // their events until acked, and the ack is sent after commit, so a lost commit is resent.
  db.pragma('synchronous = NORMAL');
  // Wait for a competing writer (backup, a second process) instead of failing at once.
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  // Keep temp b-trees (sorts for the feed) in memory; 64 MiB page cache.
  db.pragma('temp_store = MEMORY');
  db.pragma('cache_size = -65536');
  migrate(db);
  return db;
}

export function migrate(db: Db): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT');
  const applied = new Set(db.prepare('SELECT version FROM schema_migrations').pluck().all() as number[]);
  for (const m of migrations) {
    if (applied.has(m.version)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, Date.now());
    })();
  }
}
