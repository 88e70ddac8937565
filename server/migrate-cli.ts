/**
 * `consultguard-server migrate --to postgres://USER@HOST:PORT/DB [--data DIR | --database sqlite:PATH]`:
 * copies the SQLite store (the one --data or --database names) into PostgreSQL
 * (store/pg/copy.ts), printing one line per table with both counts. Stop the server first;
 * run it again after an interruption: it resumes. Exit status 1 when a count differs.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseCommandLine, resolveConfig, type OptionSpec } from '../shared/config.js';
import { AppError } from '../shared/errors.js';
import { ServerConfig } from './config.js';
import { openDb } from './store/db.js';
import { copySqliteToPg } from './store/pg/copy.js';
import { createPgDb, describeUrl } from './store/pg/db.js';

export const MIGRATE_USAGE = '  migrate --to postgres://USER@HOST:PORT/DB     copy this SQLite store into an empty PostgreSQL database (server stopped; resumable; counts checked)';

function batchSize(text: string | undefined): number {
  if (text === undefined) return 1000;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 3000) throw new AppError('bad_option', `--batch: expected a whole number from 1 to 3000, got "${text}"`);
  return n;
}

export async function runMigrate(rest: string[], options: OptionSpec[], out: (line: string) => void): Promise<number> {
  const { values } = parseCommandLine(rest, options, { to: 'string', batch: 'string' });
  const to = values.to as string | undefined;
  if (!to || !/^postgres(ql)?:\/\//.test(to)) throw new AppError('bad_option', `--to: expected postgres://USER@HOST:PORT/DB, got ${to === undefined ? 'nothing' : `"${to.split(':')[0]}:..."`}`);
  const config = resolveConfig(ServerConfig, options, values, process.env);
  if (config.database?.engine === 'postgres') throw new AppError('bad_option', 'migrate: the source must be a SQLite store (--data DIR or --database sqlite:PATH), not PostgreSQL');
  const file = config.database?.engine === 'sqlite' ? resolve(config.database.file) : join(resolve(config.dataDir), 'consultguard.db');
  if (!existsSync(file)) throw new AppError('bad_option', `migrate: no SQLite store at ${file}; name it with --data DIR or --database sqlite:PATH`);
  const src = openDb(file);
  const db = createPgDb(to);
  try {
    out(`copying ${file} to ${describeUrl(to)}`);
    let last = '';
    const reports = await copySqliteToPg(src, db, {
      batch: batchSize(values.batch as string | undefined),
      onProgress: (table, copied, total) => {
        if (table !== last && last) out(`  ${last}: done`);
        last = table;
        if (copied === total || copied % 50_000 === 0) out(`  ${table}: ${copied}/${total}`);
      },
    });
    for (const r of reports) out(`${r.ok ? 'ok  ' : 'DIFF'} ${r.table.padEnd(18)} sqlite ${String(r.source).padStart(9)}  postgres ${String(r.target).padStart(9)}${r.copiedNow ? `  (copied now ${r.copiedNow})` : ''}`);
    const bad = reports.filter((r) => !r.ok);
    out(bad.length === 0
      ? 'every table copied and counted; start the servers with --database and the URL given to --to'
      : `${bad.length} table(s) differ (${bad.map((r) => r.table).join(', ')}): was the server still running? Stop it and run migrate again`);
    return bad.length === 0 ? 0 : 1;
  } finally {
    src.close();
    await db.close();
  }
}
