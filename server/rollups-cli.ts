/**
 * `consultguard-server rollups rebuild [--timezone TZ]`: counts every violation into the
 * trend roll-ups again (server/store/rollup-rebuild.ts; PostgreSQL: pg/rollups.ts), for a
 * store made before roll-ups existed, after the clinic's time zone changed, or to check
 * them. Safe beside running servers (SQLite WAL / PostgreSQL row locks; short chunk
 * transactions; what the servers ingest meanwhile stays counted).
 * Progress goes to stderr, the result to stdout; audited with the OS user who ran it.
 * The zone: --timezone, else the one the roll-ups were counted in, else the default
 * policy's (--policies DIR, default the built-in policies).
 */
import { resolve } from 'node:path';
import { parseCommandLine, type OptionSpec } from '../shared/config.js';
import { AppError } from '../shared/errors.js';
import { silentLogger } from '../shared/log.js';
import { builtinPoliciesDir } from '../shared/paths.js';
import { SERVER_OPTIONS } from './config.js';
import { createPolicyService } from './policy/index.js';
import { cliActor } from './store/audit.js';
import type { SqliteStore, Store } from './store/index.js';
import type { PgStore } from './store/pg/index.js';
import { rebuildRollups } from './store/rollup-rebuild.js';

const OPTIONS: OptionSpec[] = SERVER_OPTIONS.filter((o) => o.key === 'dataDir' || o.key === 'database' || o.key === 'policiesDir');

function validZone(tz: string): string {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return tz;
  } catch {
    throw new AppError('bad_option', `--timezone: "${tz}" is not an IANA time zone; expected e.g. Australia/Adelaide`);
  }
}

export async function rollupsCommand(argv: string[], open: (values: Record<string, unknown>, options: OptionSpec[]) => Promise<Store>, out: (line: string) => void): Promise<boolean> {
  const { values } = parseCommandLine(argv, OPTIONS, { timezone: 'string' });
  const store = await open(values, OPTIONS);
  try {
    const policyZone = () => createPolicyService(resolve((values.policies as string | undefined) ?? process.env.CONSULTGUARD_POLICIES_DIR ?? builtinPoliciesDir()), silentLogger()).policyFor({}).timezone;
    const pg = store.engine === 'postgres' ? (store as PgStore).rollups : null;
    const counted = pg ? (await pg.state()).tz : (store as SqliteStore).rollups.state().tz;
    const tz = validZone((values.timezone as string | undefined) ?? counted ?? policyZone());
    const started = Date.now();
    let shown = 0;
    const onProgress = ({ counted, total }: { counted: number; total: number }) => {
      if (counted - shown < 100_000) return;
      shown = counted;
      process.stderr.write(`rollups rebuild: ${counted} of ${total} violations counted\n`);
    };
    const result = pg ? await pg.rebuild(tz, { onProgress }) : await rebuildRollups((store as SqliteStore).db, tz, { onProgress });
    await store.audit.record(cliActor(), 'rollups-rebuild', { timezone: tz, violations: result.counted });
    out(`roll-ups rebuilt: ${result.counted} violations counted in ${tz} in ${((Date.now() - started) / 1000).toFixed(1)} s; trends and reports read them now`);
  } finally {
    await store.close();
  }
  return true;
}
