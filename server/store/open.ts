/**
 * The engine factory: `--database URL` (CONTRACTS section 1) picks the engine behind the
 * one store interface (types.ts). `sqlite:PATH` (or no URL: DATA/consultguard.db) opens the
 * embedded SQLite engine; `postgres://` / `postgresql://` loads the PostgreSQL engine
 * (`./pg/index.js`), only then, so a SQLite server never loads `pg`. Every server command
 * (the server, token, user, secret, agent, alert, report, subject, backup) opens its store here.
 */
import { resolve } from 'node:path';
import { AppError } from '../../shared/errors.js';
import { DatabaseUrl } from '../config.js';
import { createSqliteStore } from './sqlite.js';
import type { OpenOptions, PostgresEngineModule, Store } from './types.js';

export const POSTGRES_MISSING = 'PostgreSQL is not yet supported by this build; use sqlite:PATH (or --data DIR for DATA/consultguard.db)';

async function loadPostgres(): Promise<PostgresEngineModule> {
  try {
    // A variable specifier: the module is optional until the PostgreSQL engine lands.
    const specifier = './pg/index.js';
    return (await import(specifier)) as PostgresEngineModule;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_MODULE_NOT_FOUND' && /[\\/]store[\\/]pg[\\/]/.test(String((err as Error).message))) throw new AppError('bad_option', `--database (CONSULTGUARD_DATABASE_URL): ${POSTGRES_MISSING}`, { cause: err });
    throw err;
  }
}

/** The URL text of a parsed `--database` value (config.ts DatabaseUrl), relative paths made absolute. */
export function databaseUrl(d: { engine: 'sqlite'; file: string } | { engine: 'postgres'; url: string } | undefined): string | undefined {
  if (!d) return undefined;
  return d.engine === 'postgres' ? d.url : `sqlite:${resolve(d.file)}`;
}

/** Opens the store named by `opts.url` (already checked by config's DatabaseUrl, or raw text). */
export async function openStore(opts: OpenOptions): Promise<Store> {
  const parsed = opts.url === undefined ? undefined : DatabaseUrl.safeParse(opts.url);
  if (parsed && !parsed.success) throw new AppError('bad_option', `--database (CONSULTGUARD_DATABASE_URL): ${parsed.error.issues[0]?.message ?? 'expected sqlite:PATH or postgres://USER@HOST:PORT/DB'}`);
  const db = parsed?.data;
  if (db?.engine === 'postgres') return (await loadPostgres()).openPostgresStore(db.url, opts);
  return createSqliteStore(resolve(opts.dataDir), db && resolve(db.file), opts);
}
