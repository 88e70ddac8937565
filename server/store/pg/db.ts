/**
 * The PostgreSQL connection pool and the few helpers every PostgreSQL store module uses:
 * one query, one transaction, and the mapping of a dead or unreachable database to our own
 * `store_unavailable` error, whose message names what to check (host and port,
 * credentials, database name) and never carries PostgreSQL's text or the password.
 *
 * bigint columns (millisecond times, identities) come back as JavaScript numbers: every
 * value stored is far below 2^53. Queries are parameterised ($1, $2, ...) without exception.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import { AppError } from '../../../shared/errors.js';

export type Pool = pg.Pool;
export type Client = pg.PoolClient;
/** A pool or a transaction's client: what a query runs on. */
export type Queryable = pg.Pool | pg.PoolClient;

const INT8 = 20;
const NUMERIC = 1700;
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === INT8 || oid === NUMERIC) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format as 'text');
  }) as typeof pg.types.getTypeParser,
};

/** Where the store is, for messages: host, port and database, never the user's password. */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname || 'localhost'}:${u.port || '5432'}${u.pathname || '/'}${u.username ? ` as ${decodeURIComponent(u.username)}` : ''}`;
  } catch {
    return 'the --database URL';
  }
}

// Codes and SQLSTATE classes that mean "the database is not there for us", not "the query is wrong".
const NET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE']);

/** What to tell an operator for a pg/socket error; null when it is not an availability problem. */
export function unavailableReason(err: unknown, where: string): string | null {
  const code = (err as { code?: string } | null)?.code ?? '';
  const text = err instanceof Error ? err.message : '';
  if (NET_CODES.has(code)) return `cannot reach the PostgreSQL store at ${where} (${code}); check the host and port in --database and that PostgreSQL runs and accepts TCP connections from this machine`;
  if (code === '28P01' || code === '28000') return `PostgreSQL at ${where} refused the login; check the user and password in --database (and pg_hba.conf)`;
  if (code === '3D000') return `the database in --database does not exist at ${where}; create it (createdb) or fix the name`;
  if (code === '53300') return `PostgreSQL at ${where} has no free connections; raise max_connections or lower the instances' pool size`;
  if (code.startsWith('57P') || code === '08006' || code === '08001' || code === '08003' || code === '08004') return `the PostgreSQL store at ${where} is shutting down or restarting; it will be retried (check the PostgreSQL log)`;
  if (/Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Cannot use a pool after calling end/.test(text)) return `lost the connection to the PostgreSQL store at ${where}; check that PostgreSQL runs and the network between them`;
  return null;
}

export interface PgDb {
  pool: Pool;
  /** host:port/db (for messages and logs). */
  where: string;
  /** One statement on the pool. */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<pg.QueryResult<R>>;
  /** One statement prepared once per connection (see `preparedQuery`): for the hot lookups by key. */
  prepared<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<pg.QueryResult<R>>;
  /** `fn` inside BEGIN ... COMMIT on one client (ROLLBACK on a throw); answers what `fn` answered. */
  tx<T>(fn: (c: Client) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** Turns an availability failure into `store_unavailable`; anything else is rethrown as is. */
export function mapError(err: unknown, where: string): never {
  if (err instanceof AppError) throw err;
  const reason = unavailableReason(err, where);
  if (reason) throw new AppError('store_unavailable', reason, { cause: err });
  throw err;
}

/** A client of the pool for work that holds one connection (a cursor, a session lock). */
export async function connect(db: { pool: Pool; where: string }): Promise<Client> {
  try {
    return await db.pool.connect();
  } catch (err) {
    return mapError(err, db.where);
  }
}

const names = new Map<string, string>();

/**
 * `sql` as a named statement: each connection parses it once, and after five runs PostgreSQL
 * keeps one generic plan, so a run is only Bind and Execute. The name comes from the text
 * (one text, one name, on every connection). For lookups by key only: a generic plan is
 * chosen without the values, which is right for a primary or unique key and can be wrong for
 * the feed's skewed filters (those stay unnamed, planned for their values). Columns are
 * named, never `*`: a cached `*` fails ("cached plan must not change result type") once a
 * newer instance's migration adds a column.
 */
export function preparedQuery(sql: string, params?: unknown[]): pg.QueryConfig {
  let name = names.get(sql);
  if (!name) {
    name = `cg_${createHash('sha256').update(sql).digest('hex').slice(0, 24)}`;
    names.set(sql, name);
  }
  return { name, text: sql, values: params };
}

export interface PoolOptions {
  /** Connections per instance (default 10). */
  max?: number;
}

export function createPgDb(url: string, opts: PoolOptions = {}): PgDb {
  const where = describeUrl(url);
  const pool = new pg.Pool({
    connectionString: url, max: opts.max ?? 10, types, application_name: 'consultguard',
    connectionTimeoutMillis: 5_000, idleTimeoutMillis: 30_000,
    // A statement stuck on a lock for this long is a fault to report, not to wait out.
    statement_timeout: 60_000,
  });
  // An idle client whose server went away emits here; the next checkout gets a fresh one.
  pool.on('error', () => {});
  const run = async <R extends pg.QueryResultRow>(q: pg.QueryConfig): Promise<pg.QueryResult<R>> => {
    try {
      return await pool.query<R>(q);
    } catch (err) {
      mapError(err, where);
    }
  };
  return {
    pool,
    where,
    query: (text, values) => run({ text, values }),
    prepared: (sql, params) => run(preparedQuery(sql, params)),
    async tx(fn) {
      let client: Client;
      try {
        client = await pool.connect();
      } catch (err) {
        mapError(err, where);
      }
      let broken = false;
      try {
        await client.query('BEGIN');
        const out = await fn(client);
        await client.query('COMMIT');
        return out;
      } catch (err) {
        try {
          await client.query('ROLLBACK');
        } catch {
          broken = true; // the connection is gone: do not hand it to the next caller
        }
        mapError(err, where);
      } finally {
        client.release(broken);
      }
    },
    close: () => pool.end(),
  };
}
