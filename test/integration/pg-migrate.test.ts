/**
 * `consultguard-server migrate --to postgres://...` as a real child process: a SQLite store
 * with violations, logins and tokens is copied into an empty PostgreSQL database, counts
 * are checked and reported, and the PostgreSQL store then answers the same feed with the
 * same pseudonyms and the same token. An interrupted copy resumes where it stopped; a
 * database holding another store is refused.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../shared/paths.js';
import { createStore } from '../../server/store/index.js';
import { openDb } from '../../server/store/db.js';
import { copySqliteToPg } from '../../server/store/pg/copy.js';
import { createPgDb } from '../../server/store/pg/db.js';
import { openPgStore } from '../../server/store/pg/index.js';
import type { Event } from '../../shared/protocol.js';
import { pgSkipReason, sharedPostgres } from '../support/postgres.js';
import { tempDir } from '../support/server.js';

const run = promisify(execFile);
const CLI = join(packageRoot(), 'build', 'server', 'cli.js');
const skip = pgSkipReason();
if (skip) console.warn(skip);

let n = 0;
const ev = (violationId: string, user: string, kind: Event['kind'] = 'started'): Event => ({
  id: `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`, violationId, kind, app: 'zoom', state: 'in-call', via: 'process', user, pids: [1], evidence: ['process Zoom.exe'],
  at: new Date(Date.parse('2026-11-23T09:00:00Z') + n * 60_000).toISOString(),
});
const vid = (i: number) => `00000000-0000-4000-8000-b${String(i).padStart(11, '0')}`;

async function sqliteStore() {
  const dir = tempDir('cg-mig-');
  const s = createStore(dir);
  const token = (await s.apiTokens.create('lead', 'siem')).token;
  await s.users.add('it.lead', 'admin', 'a long enough password');
  // A single sign-on user and its link (issuer + subject), and a sign-in under way.
  expect((await s.oidc.login({ issuer: 'https://idp.example', subject: 'sub-1', username: 'dr.ng' }, 'lead', '127.0.0.1')).ok).toBe(true);
  expect(await s.oidc.begin({ state: 's', nonce: 'n', verifier: 'v', next: '/violations' })).not.toBeNull();
  for (let i = 0; i < 30; i++) {
    const agent = { agentId: `00000000-0000-4000-8000-a${String(i % 3).padStart(11, '0')}`, hostname: `rm${i % 3}`, site: 'north' };
    await s.violations.ingest(agent, [ev(vid(i), i % 2 ? 'CLINIC\\dr.lee' : 'dr.kim'), ev(vid(i), 'dr.kim', 'ended')]);
  }
  await s.audit.record('cli:root', 'token-create', { name: 'siem' });
  const feed = (await s.violations.list({}, 100)).items;
  const pseudonym = s.people.pseudonym('CLINIC\\dr.lee');
  await s.close();
  return { dir, token, feed, pseudonym };
}

afterAll(async () => {
  if (!skip) await (await sharedPostgres()).destroy();
});

describe.skipIf(skip !== null)('migrate --to postgres://', () => {
  it('copies every table, reports both counts, and the PostgreSQL store answers as the SQLite one did', async () => {
    const src = await sqliteStore();
    const url = await (await sharedPostgres()).newDatabase();
    const { stdout } = await run(process.execPath, [CLI, 'migrate', '--to', url, '--data', src.dir, '--batch', '7']);
    expect(stdout).toMatch(/^ok +violations +sqlite +30 +postgres +30/m);
    expect(stdout).toMatch(/^ok +events +sqlite +60 +postgres +60/m);
    expect(stdout).toMatch(/^ok +oidc_identities +sqlite +1 +postgres +1/m);
    expect(stdout).toMatch(/^ok +oidc_pending +sqlite +1 +postgres +1/m);
    expect(stdout).toMatch(/every table copied and counted/);
    expect(stdout).not.toMatch(/DIFF/);
    expect(stdout).not.toContain(new URL(url).password); // the password is never printed
    // A second run finds everything done and copies nothing.
    const again = await run(process.execPath, [CLI, 'migrate', '--to', url, '--data', src.dir]);
    expect(again.stdout).not.toMatch(/copied now/);
    const pg = await openPgStore({ url, dataDir: src.dir });
    try {
      expect((await pg.violations.list({}, 100)).items).toEqual(src.feed);
      expect(pg.people.pseudonym('CLINIC\\dr.lee')).toBe(src.pseudonym);
      expect(await pg.apiTokens.verify(src.token)).toMatchObject({ role: 'lead', name: 'siem' });
      expect((await pg.users.login('it.lead', 'a long enough password', '127.0.0.1')).ok).toBe(true);
      // The same provider user finds the same users row, not a new sso:dr.ng~2.
      const sso = await pg.oidc.login({ issuer: 'https://idp.example', subject: 'sub-1', username: 'dr.ng' }, 'admin', '127.0.0.1');
      expect(sso).toMatchObject({ ok: true, created: false, user: { name: 'sso:dr.ng', role: 'admin' } });
      // New rows get new seqs past the copied ones.
      const r = await pg.violations.ingest({ agentId: 'x', hostname: 'rm9', site: null }, [ev(vid(99), 'dr.kim')]);
      expect(r.stored).toBe(1);
      expect((await pg.violations.list({}, 1)).items[0]?.id).toBe(vid(99));
    } finally {
      await pg.close();
    }
  });

  it('an interrupted copy resumes where it stopped and ends with equal counts', async () => {
    const src = await sqliteStore();
    const url = await (await sharedPostgres()).newDatabase();
    const lite = openDb(join(src.dir, 'consultguard.db'));
    const db = createPgDb(url);
    try {
      let batches = 0;
      await expect(copySqliteToPg(lite, db, { batch: 4, onProgress: (table) => { if (table === 'events' && ++batches === 3) throw new Error('power cut'); } })).rejects.toThrow('power cut');
      const { rows } = await db.query<{ n: number }>('SELECT count(*) AS n FROM events');
      expect(rows[0]?.n).toBe(12);
      const reports = await copySqliteToPg(lite, db, { batch: 4 });
      expect(reports.every((r) => r.ok)).toBe(true);
      expect(reports.find((r) => r.table === 'events')).toMatchObject({ source: 60, target: 60, copiedNow: 48 });
      expect(reports.find((r) => r.table === 'violations')).toMatchObject({ copiedNow: 0 });
    } finally {
      lite.close();
      await db.close();
    }
  });

  it('refuses a database that already holds a store it did not copy', async () => {
    const src = await sqliteStore();
    const url = await (await sharedPostgres()).newDatabase();
    const other = await openPgStore({ url, dataDir: src.dir });
    await other.users.add('someone', 'admin', 'a long enough password');
    await other.close();
    const err = await run(process.execPath, [CLI, 'migrate', '--to', url, '--data', src.dir]).then(() => null, (e: { code: number; stderr: string }) => e);
    expect(err?.code).toBe(2);
    expect(err?.stderr).toMatch(/already holds a store .* give it an empty database/);
  });
});
