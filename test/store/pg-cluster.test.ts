/** The throwaway cluster itself: starts, answers on its URL, survives an immediate stop and a restart. */
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { pgSkipReason, sharedPostgres } from '../support/postgres.js';

const skip = pgSkipReason();
if (skip) console.warn(skip);

describe.skipIf(skip !== null)('throwaway PostgreSQL cluster', () => {
  afterAll(async () => (await sharedPostgres()).destroy());

  it('serves a new database on loopback with a password, and keeps committed rows across an immediate stop', async () => {
    const cluster = await sharedPostgres();
    const url = await cluster.newDatabase();
    expect(url).toMatch(/^postgres:\/\/consultguard:[^@]+@127\.0\.0\.1:\d+\/cg_/);
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    await c.query('CREATE TABLE t (v int)');
    await c.query('INSERT INTO t VALUES (42)');
    await c.end();
    await cluster.stop('immediate');
    const down = new pg.Client({ connectionString: url });
    await expect(down.connect()).rejects.toThrow();
    await cluster.start();
    const again = new pg.Client({ connectionString: url });
    await again.connect();
    expect((await again.query('SELECT v FROM t')).rows).toEqual([{ v: 42 }]);
    await again.end();
  });

  it('refuses a wrong password', async () => {
    const cluster = await sharedPostgres();
    const c = new pg.Client({ connectionString: cluster.url.replace(/:[^:@]+@/, ':wrong@') });
    await expect(c.connect()).rejects.toThrow(/password/);
  });
});
