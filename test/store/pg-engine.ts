/**
 * The PostgreSQL engine for the store contract tests (engines.ts): each `open` is a fresh
 * database on this test file's throwaway cluster (test/support/postgres.ts), opened through
 * the engine's own entry point. Without initdb/pg_ctl: the skip line naming the package.
 */
import { openPostgresStore } from '../../server/store/pg/index.js';
import { pgSkipReason, sharedPostgres } from '../support/postgres.js';
import { tempDir } from '../support/server.js';
import type { EngineUnderTest } from './engines.js';

export async function pgEngineUnderTest(): Promise<EngineUnderTest | string> {
  const skip = pgSkipReason();
  if (skip) return skip;
  return {
    name: 'postgres',
    async open(now = Date.now, opts = {}) {
      const url = await (await sharedPostgres()).newDatabase('contract');
      return openPostgresStore(url, { dataDir: tempDir('cg-store-pg-'), now, ...opts });
    },
    // Each database lives as long as the cluster, which stops with this test process.
    dispose: () => Promise.resolve(),
  };
}
