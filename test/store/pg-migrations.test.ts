/** PostgreSQL schema: migrations apply once, concurrently started stores do not race, the schema mirrors SQLite's. */
import { afterAll, describe, expect, it } from 'vitest';
import { createPgDb } from '../../server/store/pg/db.js';
import { LATEST_PG, migratePg } from '../../server/store/pg/migrate.js';
import { pgMigrations } from '../../server/store/pg/migrations/index.js';
import { migrations as sqliteMigrations } from '../../server/store/migrations/index.js';
import { openDb } from '../../server/store/db.js';
import { pgSkipReason, sharedPostgres } from '../support/postgres.js';

const skip = pgSkipReason();
if (skip) console.warn(skip);

describe.skipIf(skip !== null)('PostgreSQL migrations', () => {
  afterAll(async () => (await sharedPostgres()).destroy());

  it('apply once; a second run applies nothing', async () => {
    const db = createPgDb(await (await sharedPostgres()).newDatabase());
    try {
      expect(await migratePg(db)).toEqual(pgMigrations.map((m) => m.version));
      expect(await migratePg(db)).toEqual([]);
      const { rows } = await db.query('SELECT max(version) AS v FROM schema_migrations');
      expect(rows[0]?.v).toBe(LATEST_PG);
    } finally {
      await db.close();
    }
  });

  it('four stores starting together on one empty database: each migration applied exactly once', async () => {
    const url = await (await sharedPostgres()).newDatabase();
    const dbs = [0, 1, 2, 3].map(() => createPgDb(url));
    try {
      const results = await Promise.all(dbs.map((d) => migratePg(d)));
      expect(results.flat().sort()).toEqual(pgMigrations.map((m) => m.version));
      const { rows } = await dbs[0]!.query('SELECT count(*) AS n FROM schema_migrations');
      expect(rows[0]?.n).toBe(pgMigrations.length);
    } finally {
      await Promise.all(dbs.map((d) => d.close()));
    }
  });

  it('has every SQLite table and column (a PostgreSQL twin for each SQLite migration)', async () => {
    expect(Math.max(...pgMigrations.map((m) => m.sqliteVersion))).toBe(Math.max(...sqliteMigrations.map((m) => m.version)));
    const lite = openDb(':memory:');
    const db = createPgDb(await (await sharedPostgres()).newDatabase());
    try {
      await migratePg(db);
      const tables = lite.prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all().map((t) => t.name);
      for (const t of tables) {
        const liteCols = lite.prepare<[], { name: string }>(`SELECT name FROM pragma_table_info('${t}')`).all().map((c) => c.name).sort();
        const { rows } = await db.query<{ column_name: string }>("SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1", [t]);
        // login_failures gains an explicit id where SQLite has its implicit rowid.
        const pgCols = rows.map((r) => r.column_name).filter((c) => !(t === 'login_failures' && c === 'id')).sort();
        expect(pgCols, `columns of ${t}`).toEqual(liteCols);
      }
    } finally {
      lite.close();
      await db.close();
    }
  });
});
