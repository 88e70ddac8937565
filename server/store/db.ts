/**
 * Opens the SQLite store and brings its schema up to date.
 *
 * File modes: the data folder is 0700 and the database files (the db, its -wal and -shm)
 * 0600, tightened at every open when they already existed with looser modes: they hold
 * password hashes, the audit log and every violation, for no local user but the service.
 * SQLite creates -wal and -shm with the main file's mode, so creating that one 0600 first
 * covers them. On Linux and macOS these are POSIX modes; on Windows chmod only toggles the
 * read-only flag, and access comes from the folder's ACL (%ProgramData% is admin-writable,
 * user-readable: the installer is expected to restrict the data folder there).
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { AppError } from '../../shared/errors.js';
import { migrations } from './migrations/index.js';

export type Db = Database.Database;

export const DATA_DIR_MODE = 0o700;
export const DB_FILE_MODE = 0o600;

/** The database and its companions, 0600; missing ones are skipped (SQLite makes them later). */
export function tightenDbFiles(file: string): void {
  if (process.platform === 'win32') return;
  for (const f of [file, `${file}-wal`, `${file}-shm`, `${file}-journal`]) {
    try {
      chmodSync(f, DB_FILE_MODE);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}

/** The server's data folder: created 0700, or tightened to 0700 (it is ours alone). */
export function prepareDataDir(dir: string): void {
  // A shared folder (/tmp and the like carry the sticky bit) must not be made 0700 under
  // everyone else's feet: the store needs a folder of its own.
  if (process.platform !== 'win32' && existsSync(dir) && (statSync(dir).mode & 0o1000) !== 0) {
    throw new AppError('store_unavailable', `the data folder ${dir} is a shared folder (sticky bit, like /tmp); give the store a folder of its own, e.g. --data ${join(dir, 'consultguard')}`);
  }
  try {
    mkdirSync(dir, { recursive: true, mode: DATA_DIR_MODE });
    if (process.platform !== 'win32') chmodSync(dir, DATA_DIR_MODE);
  } catch (err) {
    // Refuse rather than run with a store others may read: the fix is the folder's owner.
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new AppError('store_unavailable', `cannot make the data folder ${dir} private (mode 0700): ${code}; run the server as the folder's owner, or chown it to the service account`, { cause: err });
  }
}

function prepareFiles(file: string): void {
  // Not chmod: a database opened outside the data folder (a benchmark in /tmp) leaves that folder alone.
  mkdirSync(dirname(file), { recursive: true, mode: DATA_DIR_MODE });
  // Create the main file 0600 before SQLite does (it would use 0644 under the usual umask).
  if (!existsSync(file)) closeSync(openSync(file, 'a', DB_FILE_MODE));
  tightenDbFiles(file);
}

const BUSY_TIMEOUT_MS = 5000;

/**
 * Runs `fn` waiting at most `ms` for another connection's write lock instead of
 * busy_timeout's 5 s: for housekeeping that is tried again at its next beat (an instance's
 * heartbeat, agent presence, last seen at disconnect). better-sqlite3 waits on the event
 * loop's thread, so with a foreign lock held (a backup, a sqlite3 shell) each such write
 * would otherwise stall every request and ack for 5 s.
 */
export function briefly<T>(db: Db, fn: () => T, ms = 50): T {
  db.pragma(`busy_timeout = ${ms}`);
  try {
    return fn();
  } finally {
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  }
}

function connectionPragmas(db: Db): void {
  // WAL: readers (API, dashboard) never block the writer (ingest), and a commit is one
  // sequential append.
  db.pragma('journal_mode = WAL');
  // NORMAL in WAL mode: a commit survives a process crash (kill -9); only an OS crash or
  // power loss can lose the last transactions, and never corrupts the file. Agents keep
  // their events until acked, and the ack is sent after commit, so a lost commit is resent.
  db.pragma('synchronous = NORMAL');
  // Wait for a competing writer (backup, a second process) instead of failing at once.
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  db.pragma('foreign_keys = ON');
  // Keep temp b-trees (sorts for the feed) in memory; 64 MiB page cache.
  db.pragma('temp_store = MEMORY');
  db.pragma('cache_size = -65536');
}

/**
 * Another connection of a running server to its store, for a worker thread (the report
 * reader): the file must exist, made and migrated by the server; the same pragmas. Never
 * creates a store where none is.
 */
export function openServerDb(file: string): Db {
  let db: Db;
  try {
    db = new Database(file, { fileMustExist: true });
  } catch (err) {
    throw new AppError('store_unavailable', `cannot open the store at ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  connectionPragmas(db);
  return db;
}

export function openDb(file: string): Db {
  let db: Db;
  try {
    if (file !== ':memory:') prepareFiles(file);
    db = new Database(file);
  } catch (err) {
    throw new AppError('store_unavailable', `cannot open the store at ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}; check the --data folder exists and is writable`, { cause: err });
  }
  connectionPragmas(db);
  migrate(db);
  // The -wal and -shm now exist: a pre-existing pair with loose modes is tightened too.
  if (file !== ':memory:') tightenDbFiles(file);
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
