/**
 * The PostgreSQL engine (`--database postgres://USER@HOST:PORT/DB`): a pool of connections
 * (10 per instance), the schema brought up to date under an advisory lock, and every part
 * of the Store interface (../types.ts) on it. Any number of server instances may share one
 * database: nothing here is true only in one process except caches that the change feed
 * (LISTEN/NOTIFY) tells to re-read, and periodic jobs take cluster-wide advisory locks.
 *
 * Works the same on Windows, macOS and Linux (node-postgres is pure JavaScript); it was
 * tested here on Linux against PostgreSQL 15.
 */
import type { QueryConfig, QueryResult, QueryResultRow } from 'pg';
import { AppError } from '../../../shared/errors.js';
import type { OpenOptions, PostgresEngineModule, Store } from '../types.js';
import { createPgAgentStore } from './agents.js';
import { createPgAlertStore } from './alerts.js';
import { createPgAuditStore } from './audit.js';
import { createPgChangeFeed } from './changes.js';
import { createPgDb, describeUrl, mapError, preparedQuery, unavailableReason, type Client, type PgDb } from './db.js';
import { createPgExceptionStore } from './exceptions.js';
import { createPgInstanceStore } from './instances.js';
import { createPgPresenceStore } from './presence.js';
import { createPgJobs } from './jobs.js';
import { createPgOidcStore } from './oidc.js';
import { LATEST_PG, migratePg } from './migrate.js';
import { createPgPeople, type PgPeople } from './people.js';
import { createPgReportStore } from './reports.js';
import { createPgRetention } from './retention.js';
import { createPgRevealStore } from './reveals.js';
import { createPgRollups, type PgRollups } from './rollups.js';
import { createPgSubjects } from './subjects.js';
import { createPgApiTokenStore, createPgSecretStore } from './tokens.js';
import { createPgUserStore } from './users.js';
import { createPgViolationStore } from './violations.js';

export interface PgOpenOptions extends OpenOptions {
  /** Connections in this instance's pool (default 10). */
  poolSize?: number;
}

/** A transaction's client as a PgDb: every store module built on it joins that transaction. */
function inTransaction(c: Client, outer: PgDb): PgDb {
  const run = async <R extends QueryResultRow>(q: QueryConfig): Promise<QueryResult<R>> => {
    try {
      return await c.query<R>(q);
    } catch (err) {
      mapError(err, outer.where);
    }
  };
  return {
    pool: outer.pool,
    where: outer.where,
    query: (text, values) => run({ text, values }),
    prepared: (sql, params) => run(preparedQuery(sql, params)),
    tx: (fn) => fn(c),
    close: async () => {},
  };
}

/** `postgres://host:5432/db`: where the data is, never with the user's password. */
export function pgLocation(url: string): string {
  try {
    const u = new URL(url);
    return `postgres://${u.hostname || 'localhost'}:${u.port || '5432'}${u.pathname || '/'}`;
  } catch {
    return 'postgres://(unparsable URL)';
  }
}

/** The PostgreSQL engine; `rollups` its roll-up tables (server start, `rollups rebuild`), `pg` its pool (tests, benchmarks). */
export type PgStore = Store & { readonly rollups: PgRollups; readonly pg: PgDb };

export async function openPgStore(opts: PgOpenOptions): Promise<PgStore> {
  const url = opts.url ?? '';
  if (!/^postgres(ql)?:\/\//.test(url)) throw new AppError('bad_option', `--database: expected postgres://USER@HOST:PORT/DB, got ${url.split(':')[0] || 'nothing'}:...`);
  const now = opts.now ?? Date.now;
  const db = createPgDb(url, { max: opts.poolSize });
  let people: PgPeople;
  try {
    await migratePg(db, now);
    people = await createPgPeople(db, { showNames: opts.showNames, now });
  } catch (err) {
    await db.close().catch(() => {});
    throw err;
  }
  const changes = createPgChangeFeed(url, db, opts.log);
  const jobs = createPgJobs(db);
  const location = pgLocation(url);

  const build = (d: PgDb): PgStore => {
    const rollups = createPgRollups(d, now);
    const store: PgStore = {
      engine: 'postgres',
      rollups,
      pg: d,
      location,
      people,
      agents: createPgAgentStore(d, now),
      violations: createPgViolationStore(d, people, rollups, now, changes.notifyInTransaction),
      reveals: createPgRevealStore(d, people, now),
      subjects: createPgSubjects(d, people, rollups, now),
      apiTokens: createPgApiTokenStore(d, now),
      secrets: createPgSecretStore(d, now),
      users: createPgUserStore(d, now),
      oidc: createPgOidcStore(d, now, opts.oidcPendingMax),
      audit: createPgAuditStore(d, now),
      exceptions: createPgExceptionStore(d, rollups, now),
      alerts: createPgAlertStore(d, now),
      reports: createPgReportStore(d, rollups, now),
      retention: createPgRetention(d, rollups),
      instances: createPgInstanceStore(d),
      presence: createPgPresenceStore(d),
      changes,
      jobs,
      async probe() {
        let version: number | null;
        try {
          await d.pool.query('SELECT 1 FROM agents LIMIT 1');
          await d.pool.query('SELECT 1 FROM violations LIMIT 1');
          await d.pool.query('SELECT 1 FROM events LIMIT 1');
          version = (await d.pool.query<{ v: number | null }>('SELECT max(version) AS v FROM schema_migrations')).rows[0]?.v ?? null;
        } catch (err) {
          // The code (SQLSTATE or ECONNREFUSED...) for the health checks; our words, never PostgreSQL's.
          const code = (err as { code?: string }).code ?? 'EPG';
          throw Object.assign(new Error(unavailableReason(err, d.where) ?? `the PostgreSQL store at ${d.where} cannot be read (${code})`), { code });
        }
        if (version !== LATEST_PG) throw Object.assign(new Error(`the PostgreSQL store schema is at version ${version ?? 'none'}, this server needs ${LATEST_PG}`), { code: 'ESCHEMA' });
      },
      async backup() {
        throw new AppError('bad_option', `backup: a PostgreSQL store is backed up with PostgreSQL's own tools: pg_dump -Fc -h HOST -U USER DB > consultguard.dump (restore with pg_restore), or the cluster's base backups and WAL archiving (${describeUrl(url)})`);
      },
      transaction: (fn) => (d === db ? db.tx((c) => fn(build(inTransaction(c, db)))) : fn(store)),
      async close() {
        if (d !== db) return;
        await changes.close();
        await db.close();
      },
    };
    return store;
  };
  return build(db);
}

/** The engine entry the store opener loads for a postgres:// URL (types.ts PostgresEngineModule). */
export const openPostgresStore: PostgresEngineModule['openPostgresStore'] = (url, opts) => openPgStore({ ...opts, url });
