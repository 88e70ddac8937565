/**
 * `consultguard-server migrate --to postgres://...`: copies a SQLite store into a PostgreSQL
 * database, so a clinic that outgrows one box keeps its history, pseudonyms (the key is
 * copied), logins and tokens. Run it with the server stopped.
 *
 * - Resumable: each table is copied in batches of `batch` rows in primary-key order; a batch
 *   and the table's progress row (`migrate_progress`, in the target) commit together, so an
 *   interrupted copy starts again where it stopped (rows are also inserted ON CONFLICT DO
 *   NOTHING, so a repeated batch adds nothing).
 * - Safe: the target must be empty or a copy this command began (a progress table); a source
 *   newer than the PostgreSQL schema knows is refused (server/store/pg/migrations/index.ts).
 * - Checked: at the end every table's row count is compared on both sides; identities
 *   (seq) are moved past the copied values so new rows never collide.
 * - Roll-ups are left to count: the first server start on the target counts them (pg/rollups.ts).
 */
import type Database from 'better-sqlite3';
import { AppError } from '../../../shared/errors.js';
import type { PgDb } from './db.js';
import { migratePg } from './migrate.js';
import { pgMigrations } from './migrations/index.js';
import { ROLLUP_TABLES } from '../rollups.js';

type Db = Database.Database;

/** Tables in copy order (parents first), each with its SQLite ordering key and PostgreSQL identity column. */
export const COPY_TABLES: Array<{ table: string; key: string; identity?: string }> = [
  { table: 'privacy_key', key: 'id' },
  { table: 'agents', key: 'agent_id' },
  { table: 'api_tokens', key: 'id' },
  { table: 'enroll_secrets', key: 'id' },
  { table: 'users', key: 'name' },
  { table: 'oidc_identities', key: 'issuer, subject' },
  { table: 'oidc_pending', key: 'id_hash' },
  { table: 'sessions', key: 'id_hash' },
  { table: 'login_failures', key: 'rowid' },
  { table: 'login_known', key: 'user_name, ip' },
  { table: 'audit', key: 'seq', identity: 'seq' },
  { table: 'people', key: 'name' },
  { table: 'violations', key: 'seq', identity: 'seq' },
  { table: 'events', key: 'agent_id, id' },
  { table: 'nudges', key: 'agent_id, id' },
  { table: 'reviews', key: 'seq', identity: 'seq' },
  { table: 'reveals', key: 'seq', identity: 'seq' },
  { table: 'exceptions', key: 'agent_id, violation_id' },
  { table: 'alert_rules', key: 'id' },
  { table: 'alert_triggers', key: 'seq', identity: 'seq' },
  { table: 'alert_fired', key: 'rule_id, subject' },
  { table: 'alert_deliveries', key: 'id', identity: 'id' },
  { table: 'report_schedules', key: 'id' },
  { table: 'report_runs', key: 'report_id, period' },
];

export interface TableReport {
  table: string;
  source: number;
  target: number;
  copiedNow: number;
  ok: boolean;
}

const quote = (c: string) => (c === 'user' || c === 'by' ? `"${c}"` : c);

export async function copySqliteToPg(src: Db, db: PgDb, opts: { batch?: number; onProgress?: (table: string, copied: number, total: number) => void } = {}): Promise<TableReport[]> {
  const batch = opts.batch ?? 1000;
  const srcVersion = src.prepare<[], { v: number | null }>('SELECT max(version) AS v FROM schema_migrations').get()?.v ?? 0;
  const knows = Math.max(...pgMigrations.map((m) => m.sqliteVersion));
  if (srcVersion !== knows) throw new AppError('bad_option', `migrate: the SQLite store is at schema version ${srcVersion}, this build copies version ${knows}; ${srcVersion < knows ? 'start this server version once on the SQLite store to bring it up to date' : 'use the server version that made it'}, then migrate again`);
  await migratePg(db);
  await db.query('CREATE TABLE IF NOT EXISTS migrate_progress (table_name text PRIMARY KEY, copied bigint NOT NULL, done boolean NOT NULL DEFAULT false)');
  const started = (await db.query<{ n: number }>('SELECT count(*) AS n FROM migrate_progress')).rows[0]!.n > 0;
  if (!started) {
    const { rows } = await db.query<{ n: number }>('SELECT (SELECT count(*) FROM violations) + (SELECT count(*) FROM agents) + (SELECT count(*) FROM users) + (SELECT count(*) FROM audit) AS n');
    if (rows[0]!.n > 0) throw new AppError('bad_option', 'migrate: the PostgreSQL database already holds a store (violations, agents, users or audit rows) that this command did not copy; give it an empty database (createdb)');
  }
  const reports: TableReport[] = [];
  for (const { table, key, identity } of COPY_TABLES) {
    const total = src.prepare<[], { n: number }>(`SELECT count(*) AS n FROM ${table}`).get()!.n;
    const progress = (await db.query<{ copied: number; done: boolean }>('SELECT copied, done FROM migrate_progress WHERE table_name = $1', [table])).rows[0];
    let copied = progress?.copied ?? 0;
    let copiedNow = 0;
    if (!progress?.done) {
      const cols = src.prepare<[], { name: string }>(`SELECT name FROM pragma_table_info('${table}')`).all().map((c) => c.name);
      const read = src.prepare(`SELECT ${cols.map(quote).join(', ')} FROM ${table} ORDER BY ${key} LIMIT ? OFFSET ?`).raw();
      const conflict = table === 'privacy_key' ? 'ON CONFLICT (id) DO UPDATE SET key = excluded.key, created_at = excluded.created_at, backfilled = excluded.backfilled' : 'ON CONFLICT DO NOTHING';
      for (;;) {
        const rows = read.all(batch, copied) as unknown[][];
        if (rows.length === 0) break;
        const params: unknown[] = [];
        const values = rows.map((r) => `(${r.map((v) => {
          params.push(v);
          return `$${params.length}`;
        }).join(', ')})`);
        await db.tx(async (c) => {
          await c.query(`INSERT INTO ${table} (${cols.map(quote).join(', ')}) VALUES ${values.join(', ')} ${conflict}`, params);
          await c.query('INSERT INTO migrate_progress (table_name, copied) VALUES ($1, $2) ON CONFLICT (table_name) DO UPDATE SET copied = excluded.copied', [table, copied + rows.length]);
        });
        copied += rows.length;
        copiedNow += rows.length;
        opts.onProgress?.(table, copied, total);
      }
      if (identity) await db.query(`SELECT setval(pg_get_serial_sequence('${table}', '${identity}'), GREATEST((SELECT max(${identity}) FROM ${table}), 1))`);
      await db.query('INSERT INTO migrate_progress (table_name, copied, done) VALUES ($1, $2, true) ON CONFLICT (table_name) DO UPDATE SET done = true', [table, copied]);
    }
    const target = (await db.query<{ n: number }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]!.n;
    reports.push({ table, source: total, target, copiedNow, ok: target === total });
  }
  // Roll-ups are not copied: the violations came in around them, so the target counts them
  // again at its first start (a server that ran on the empty database had marked them ready).
  await db.tx(async (c) => {
    await c.query('SELECT 1 FROM rollup_state WHERE id = 1 FOR UPDATE');
    for (const t of ROLLUP_TABLES) await c.query(`DELETE FROM ${t}`);
    await c.query('UPDATE rollup_state SET tz = NULL, through = 0, ready = 0, built_at = NULL WHERE id = 1');
  });
  return reports;
}
