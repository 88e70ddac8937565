/**
 * Is the store usable, right now? A real round trip on the server's own connection
 * (`SELECT 1`), the schema version, one row of each table ingest cannot live without, and
 * the file's identity: a store file deleted or replaced under a running server still
 * works on the old, unlinked file, so every write would vanish at the next restart.
 * SQLite behaves the same on Windows, macOS and Linux; a file held open cannot be deleted
 * on Windows, so the identity check matters on macOS and Linux.
 */
import { statSync } from 'node:fs';
import type { Logger } from '../../shared/log.js';
import type { Db } from '../store/db.js';
import { migrations } from '../store/migrations/index.js';
import { createStreak, errorCode, type StreakStatus } from './streak.js';

export interface StoreHealth extends StreakStatus {
  /** What is wrong, in our own words (for /healthz); null while it works. */
  problem: string | null;
}

const LATEST = Math.max(...migrations.map((m) => m.version));

function fileId(file: string): string | null {
  try {
    const st = statSync(file);
    return `${st.dev}:${st.ino}`;
  } catch {
    return null;
  }
}

/** Our words for what went wrong: SQLite's codes are stable, its messages are not for clients. */
function problemFor(code: string): string {
  if (code === 'ENOTOPEN') return 'the store connection is closed';
  if (code === 'EREPLACED') return 'the store file was deleted or replaced while the server runs; restart the server (writes now go to a file no one will read)';
  if (code === 'ESCHEMA') return `the store schema is not at version ${LATEST}; restore it from a backup`;
  if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB') return 'the store file is corrupt; restore it from a backup';
  if (code.startsWith('SQLITE_IOERR')) return 'disk I/O error reading the store; check the disk under --data';
  if (code === 'SQLITE_FULL') return 'the disk under --data is full';
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return 'the store is locked by another process';
  if (code === 'SQLITE_ERROR') return 'the store schema is damaged (a table is missing); restore it from a backup';
  return 'the store cannot be read';
}

export function createStoreProbe(db: Db, log: Logger) {
  const file = db.memory ? null : db.name;
  const opened = file ? fileId(file) : null;
  const streak = createStreak(log, 'store');
  let problem: string | null = null;
  const fail = (code: string, err: unknown = Object.assign(new Error(code), { code })): false => {
    problem = problemFor(code);
    streak.fail(err, { file });
    return false;
  };

  return {
    /** Runs the checks; true when the store is usable. */
    check(): boolean {
      if (!db.open) return fail('ENOTOPEN');
      try {
        // Prepared each time (microseconds): a cached statement would hide a dropped table.
        if (db.prepare('SELECT 1').pluck().get() !== 1) return fail('ESCHEMA');
        if (db.prepare('SELECT max(version) FROM schema_migrations').pluck().get() !== LATEST) return fail('ESCHEMA');
        db.prepare('SELECT 1 FROM agents LIMIT 1').get();
        db.prepare('SELECT 1 FROM violations LIMIT 1').get();
        db.prepare('SELECT 1 FROM events LIMIT 1').get();
      } catch (err) {
        return fail(errorCode(err), err);
      }
      if (file && fileId(file) !== opened) return fail('EREPLACED');
      problem = null;
      streak.ok();
      return true;
    },
    status: (): StoreHealth => ({ ...streak.status(), problem }),
  };
}

export type StoreProbe = ReturnType<typeof createStoreProbe>;
