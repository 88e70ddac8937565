/**
 * Is the store usable, right now? The engine's probe (store/types.ts `probe`): for SQLite a
 * real round trip on the server's own connection (`SELECT 1`), the schema version, one row
 * of each table ingest cannot live without, and the file's identity: a store file deleted
 * or replaced under a running server still works on the old, unlinked file, so every write
 * would vanish at the next restart. SQLite behaves the same on Windows, macOS and Linux; a
 * file held open cannot be deleted on Windows, so the identity check matters on macOS and
 * Linux. Here its coded failures become our own words for /healthz.
 */
import type { Logger } from '../../shared/log.js';
import { migrations } from '../store/migrations/index.js';
import type { Store } from '../store/types.js';
import { createStreak, errorCode, type StreakStatus } from './streak.js';

export interface StoreHealth extends StreakStatus {
  /** What is wrong, in our own words (for /healthz); null while it works. */
  problem: string | null;
}

const LATEST = Math.max(...migrations.map((m) => m.version));

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

export function createStoreProbe(store: Pick<Store, 'probe' | 'location' | 'engine'>, log: Logger) {
  const streak = createStreak(log, 'store');
  let problem: string | null = null;

  return {
    /** Runs the store's checks (store.probe: a real round trip, schema, tables); true when usable. */
    async check(): Promise<boolean> {
      try {
        await store.probe();
      } catch (err) {
        // The PostgreSQL engine's probe fails in our own words already (host/port, login, schema; never PostgreSQL's text).
        problem = store.engine === 'postgres' && err instanceof Error ? err.message : problemFor(errorCode(err));
        streak.fail(err, { store: store.location });
        return false;
      }
      problem = null;
      streak.ok();
      return true;
    },
    status: (): StoreHealth => ({ ...streak.status(), problem }),
    engine: store.engine,
  };
}

export type StoreProbe = ReturnType<typeof createStoreProbe>;
