/**
 * The store: one interface (types.ts), two engines (sqlite.ts, pg/), chosen by
 * `openStore` (open.ts) from `--database URL`.
 */
import { createSqliteStore, type SqliteStore } from './sqlite.js';

export type * from './types.js';
export { openStore } from './open.js';
export type { SqliteStore } from './sqlite.js';

export interface StoreOptions {
  /** Show clinicians' names instead of pseudonyms (`--show-names`: the clinic's decision). */
  showNames?: boolean;
  /** The database file (`--database sqlite:PATH`); default DATA/consultguard.db. */
  file?: string;
  /** How often the change feed looks for other connections' commits (default 1000 ms). */
  changePollMs?: number;
  /** Single sign-ins under way at once, at most (default store/oidc.ts PENDING_MAX; smaller in tests). */
  oidcPendingMax?: number;
}

/** The SQLite engine on `dataDir` (tests, benchmarks, the demo): synchronous to open. */
export function createStore(dataDir: string, now: () => number = Date.now, opts: StoreOptions = {}): SqliteStore {
  return createSqliteStore(dataDir, opts.file, { showNames: opts.showNames, now, changePollMs: opts.changePollMs, oidcPendingMax: opts.oidcPendingMax });
}
