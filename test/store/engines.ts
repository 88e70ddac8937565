/**
 * The store engines the contract tests (test/store/*.test.ts) run against, each through the
 * one interface (server/store/types.ts): SQLite always; PostgreSQL when its engine is in
 * this build (server/store/pg/) and `test/store/pg-engine.ts` finds the PostgreSQL binaries
 * (test/support/postgres.ts starts a throwaway cluster). Otherwise one line says why it is
 * skipped and how to enable it; under CI=true a skipped engine fails the run.
 */
import { rmSync } from 'node:fs';
import { createStore } from '../../server/store/index.js';
import type { OpenOptions, Store } from '../../server/store/types.js';
import { tempDir } from '../support/server.js';

/** Store options a test may set (OpenOptions' test knobs). */
export type EngineOptions = Pick<OpenOptions, 'oidcPendingMax'>;

export interface EngineUnderTest {
  name: 'sqlite' | 'postgres';
  /** A fresh, empty store of its own (own file / own database) on the given clock. */
  open(now?: () => number, opts?: EngineOptions): Promise<Store>;
  /** Drops what `open` made (after `close`). */
  dispose(store: Store): Promise<void>;
}

const sqliteDirs = new WeakMap<Store, string>();

export const sqliteEngine: EngineUnderTest = {
  name: 'sqlite',
  open(now = Date.now, opts = {}) {
    const dir = tempDir('cg-store-');
    const store = createStore(dir, now, opts);
    sqliteDirs.set(store, dir);
    return Promise.resolve(store);
  },
  dispose(store) {
    const dir = sqliteDirs.get(store);
    if (dir) rmSync(dir, { recursive: true, force: true });
    return Promise.resolve();
  },
};

/** The PostgreSQL entry: the module pgengine writes (`pgEngineUnderTest`), or why there is none. */
async function postgresEngine(): Promise<EngineUnderTest | string> {
  try {
    const specifier = './pg-engine.js';
    const mod = (await import(specifier)) as { pgEngineUnderTest(): Promise<EngineUnderTest | string> };
    return await mod.pgEngineUnderTest();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') return 'PostgreSQL store contract SKIPPED: this build has no PostgreSQL engine yet (server/store/pg/, test/store/pg-engine.ts)';
    throw err;
  }
}

const pg = await postgresEngine();
if (typeof pg === 'string') {
  process.stderr.write(`${pg}\n`);
  if (process.env.CI === 'true' && !pg.includes('no PostgreSQL engine yet')) throw new Error(`CI=true: ${pg}`);
}

export const engines: EngineUnderTest[] = [sqliteEngine, ...(typeof pg === 'string' ? [] : [pg])];
