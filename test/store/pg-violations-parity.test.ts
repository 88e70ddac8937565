/**
 * The PostgreSQL violation store against the SQLite one: the same batches (with duplicates,
 * resends, out-of-order ends, evidence past the cap) into both, then every read compared:
 * the feed page by page with each filter, detail timelines, trends, filter values, the CSV
 * stream. The PostgreSQL store is given SQLite's pseudonym key so pseudonyms compare too.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStore, type SqliteStore } from '../../server/store/index.js';
import { createPgDb, type PgDb } from '../../server/store/pg/db.js';
import { migratePg } from '../../server/store/pg/migrate.js';
import { createPgPeople } from '../../server/store/pg/people.js';
import { createPgViolationStore, type PgViolationStore } from '../../server/store/pg/violations.js';
import { createPgRollups } from '../../server/store/pg/rollups.js';
import type { Event } from '../../shared/protocol.js';
import type { Trends } from '../../shared/api-types.js';
import { tempDir } from '../support/server.js';
import { pgSkipReason, sharedPostgres } from '../support/postgres.js';

const skip = pgSkipReason();
if (skip) console.warn(skip);

const NOW = Date.parse('2026-11-23T18:00:00Z');
const uuid = (n: number, tag = 'e') => `00000000-0000-4000-8000-${tag.repeat(1)}${String(n).padStart(11, '0')}`;
const agents = [0, 1, 2].map((i) => ({ agentId: uuid(i, 'a'), hostname: `rm${i}`, site: i === 2 ? null : `site${i}` }));
const apps = ['zoom', 'whatsapp', 'facetime'];
const users = ['CLINIC\\dr.lee', 'clinic\\DR.LEE', 'dr.kim', 'h:0123abcd', undefined];

/** A deterministic day of batches per agent: violations started, updated, ended, some resent. */
function batches(): Array<{ agent: (typeof agents)[number]; events: Event[] }> {
  const out: Array<{ agent: (typeof agents)[number]; events: Event[] }> = [];
  let id = 0;
  let seed = 7;
  const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
  for (let v = 0; v < 60; v++) {
    const agent = agents[v % 3]!;
    const vid = uuid(v, 'b');
    const at = Date.parse('2026-11-23T08:00:00Z') + v * 7 * 60_000 + (v % 5) * 1000; // some share a start minute
    const app = apps[rnd(3)]!;
    const user = users[rnd(users.length)];
    const ev = (kind: Event['kind'], dt: number, state: Event['state'], evidence: string[]): Event => ({
      id: uuid(++id), violationId: vid, kind, app, state, via: rnd(2) ? 'process' : 'network', ...(user ? { user } : {}), pids: [100 + v], evidence, at: new Date(at + dt).toISOString(),
    });
    const started = ev('started', 0, 'running', [`process Zoom.exe C:\\Users\\dr.lee\\Zoom.exe`, `line ${v}`]);
    const updated = ev('updated', 60_000, rnd(2) ? 'in-call' : 'running', Array.from({ length: 40 }, (_, i) => `evidence ${i % 35}`));
    const ended = ev('ended', 120_000 + rnd(600_000), 'running', ['app closed']);
    if (v % 4 === 0) out.push({ agent, events: [started, updated, ended] });
    else if (v % 4 === 1) out.push({ agent, events: [started] }, { agent, events: [started, updated] }); // a resend with one new event
    else if (v % 4 === 2) out.push({ agent, events: [ended, started] }); // the end arrives first
    else out.push({ agent, events: [started, started, updated] }); // one id twice in a batch
  }
  return out;
}

const sortBy = <T extends { count: number }>(rows: T[], key: keyof T) => [...rows].sort((a, b) => b.count - a.count || String(a[key]).localeCompare(String(b[key])));

describe.skipIf(skip !== null)('PostgreSQL violation store matches SQLite', () => {
  let lite: SqliteStore;
  let dir: string;
  let db: PgDb;
  let pgv: PgViolationStore;

  beforeAll(async () => {
    dir = tempDir();
    lite = createStore(dir, () => NOW);
    db = createPgDb(await (await sharedPostgres()).newDatabase());
    await migratePg(db);
    const key = lite.db.prepare<[], { key: string }>('SELECT key FROM privacy_key').get()!.key;
    await db.query('UPDATE privacy_key SET key = $1', [key]);
    pgv = createPgViolationStore(db, await createPgPeople(db, { now: () => NOW }), createPgRollups(db, () => NOW), () => NOW);
    for (const b of batches()) {
      const a = await lite.violations.ingest(b.agent, b.events);
      const p = await pgv.ingest(b.agent, b.events);
      expect(p).toEqual(a);
    }
  });
  afterAll(async () => {
    await lite?.close();
    rmSync(dir, { recursive: true, force: true });
    await db?.close();
    await (await sharedPostgres()).destroy();
  });

  it('stores each event once: resent and repeated ids are duplicates, as in SQLite', async () => {
    const [n] = (await db.query('SELECT count(*) AS n FROM events')).rows;
    expect(n?.n).toBe(lite.db.prepare<[], { n: number }>('SELECT count(*) AS n FROM events').get()!.n);
    const again = batches()[0]!;
    expect(await pgv.ingest(again.agent, again.events)).toEqual({ stored: 0, duplicates: again.events.length, touched: [], events: [] });
  });

  const filters = [
    {}, { app: 'zoom' }, { site: 'site1' }, { state: 'in-call' as const }, { agent: agents[2]!.agentId }, { hostname: 'rm0' },
    { since: Date.parse('2026-11-23T10:00:00Z'), until: Date.parse('2026-11-23T13:00:00Z') }, { q: 'rm1' }, { q: 'clinician-' }, { q: '%' },
    { app: 'whatsapp', state: 'running' as const, site: 'site0' },
  ];

  it('answers every feed filter with the same pages and cursors', async () => {
    const someone = lite.people.pseudonym('dr.kim');
    for (const filter of [...filters, { user: someone }]) {
      let liteCursor: { startedAt: number; seq: number } | undefined;
      let pgCursor: { startedAt: number; seq: number } | undefined;
      let pages = 0;
      do {
        const a = await lite.violations.list(filter, 7, liteCursor);
        const b = await pgv.list(filter, 7, pgCursor);
        expect(b.items, JSON.stringify(filter)).toEqual(a.items);
        expect(b.next === null).toBe(a.next === null);
        liteCursor = a.next ?? undefined;
        pgCursor = b.next ?? undefined;
        pages++;
      } while (liteCursor && pages < 20);
    }
  });

  it('streams the same rows as the feed, page by page', async () => {
    for (const filter of filters) {
      const all: unknown[] = [];
      for await (const page of pgv.stream(filter, 9)) all.push(...page);
      expect(all).toEqual((await lite.violations.list(filter, 10_000)).items);
    }
  });

  it('gives the same detail timelines, trends and filter values', async () => {
    for (let v = 0; v < 60; v += 7) {
      const agent = agents[v % 3]!;
      expect(await pgv.detail(agent.agentId, uuid(v, 'b'))).toEqual(await lite.violations.detail(agent.agentId, uuid(v, 'b')));
    }
    // Ties in the top lists come in no defined order from SQLite: compared as sets of (key, count).
    const ties = (t: Trends) => ({ ...t, topSites: sortBy(t.topSites, 'site'), topWorkstations: sortBy(t.topWorkstations, 'hostname') });
    const range = [Date.parse('2026-11-22T00:00:00Z'), Date.parse('2026-11-25T00:00:00Z')] as const;
    for (const tz of ['UTC', 'Australia/Adelaide', 'America/New_York']) {
      expect(ties(await pgv.trends(...range, tz))).toEqual(ties(await lite.violations.trends(...range, tz)));
    }
    expect(await pgv.filterValues()).toEqual(await lite.violations.filterValues());
  });

  it('acknowledges one agent\'s violation and records the review in the timeline', async () => {
    const a = agents[0]!;
    const id = uuid(0, 'b');
    expect(await pgv.acknowledge(a.agentId, id, 'resolved', 'lead.a', 'talked to them')).toEqual(await lite.violations.acknowledge(a.agentId, id, 'resolved', 'lead.a', 'talked to them'));
    expect(await pgv.acknowledge(agents[1]!.agentId, id, 'resolved', 'lead.a', '')).toBeNull();
    expect(await pgv.detail(a.agentId, id)).toEqual(await lite.violations.detail(a.agentId, id));
    expect(await pgv.agentsWithId(id)).toEqual([a.agentId]);
  });
});
