/**
 * Events in, violations out, on PostgreSQL, with the SQLite engine's rules (violations.ts):
 * each event stored once per (agent, event id), folded into its violation (first seen,
 * highest state, merged evidence capped at 32 lines, end). A batch is one transaction of a
 * handful of statements whatever its size: the events go in with one INSERT ... ON CONFLICT
 * DO NOTHING RETURNING, the violations they touch are read (FOR UPDATE) in one SELECT,
 * folded here in batch order, and written back with one INSERT and one UPDATE. A
 * per-agent advisory lock serialises two instances ingesting for one agent (an agent
 * failing over resends its unacked batch to the other): the second waits, then finds the
 * events stored and acks them as duplicates. The caller acks only after COMMIT.
 */
import type { ClientBase } from 'pg';
import Cursor from 'pg-cursor';
import type { Event, NudgeOutcome } from '../../../shared/protocol.js';
import type { FilterValues, TimelineEntry, TimelineKind, Trends, Violation, ViolationException } from '../../../shared/api-types.js';
import { maxState, mergeVia, type AppState, type Via } from '../../../shared/snapshot.js';
import type { FeedCursor, IngestResult, ViolationFilter } from '../types.js';
import { connect, mapError, type PgDb } from './db.js';
import type { PgPeople } from './people.js';
import type { NotifyInTransaction } from './changes.js';
import { exceptionToApi, foldDays, toViolation as toViolationView, type ExceptionRow, type ViolationRow as Row } from '../rows.js';
import { trendsFromTally } from '../trends.js';
import type { PgRollups } from './rollups.js';
import { pgFilterValues, pgTallyRange } from './tally.js';

const MAX_EVIDENCE = 32;

/** An exception's columns beside a violation row's (`feed`); `x_claimed_at` is null when there is no claim. */
const CLAIM_COLUMNS = 'e.reason AS x_reason, e.label AS x_label, e.claimed_at AS x_claimed_at, e.until AS x_until, e.decision AS x_decision, e.decided_by AS x_decided_by, e.decided_at AS x_decided_at, e.note AS x_note';
type ClaimColumns = { [K in Exclude<keyof ExceptionRow, 'agent_id' | 'violation_id'> as `x_${K}`]: ExceptionRow[K] | null };

function claimOf(r: Row & ClaimColumns): ViolationException | null {
  if (r.x_claimed_at === null) return null;
  return exceptionToApi({
    agent_id: r.agent_id, violation_id: r.id, reason: r.x_reason!, label: r.x_label!, claimed_at: r.x_claimed_at, until: r.x_until!,
    decision: r.x_decision, decided_by: r.x_decided_by, decided_at: r.x_decided_at, note: r.x_note!,
  });
}


/** A violation as the fold holds it: a row read for update, or a new one (seq 0). */
interface Folded { seq: number; id: string; user: string | null; app: string; state: AppState; via: Via; startedAt: number; endedAt: number | null; evidence: string[] }

/** One event folded into its violation, exactly as SQLite's `fold` does. */
function foldEvent(v: Folded | undefined, e: Event): Folded {
  const at = Date.parse(e.at);
  if (!v) {
    return { seq: 0, id: e.violationId, user: e.user ?? null, app: e.app, state: e.state, via: e.via, startedAt: at, endedAt: e.kind === 'ended' ? at : null, evidence: e.evidence.slice(0, MAX_EVIDENCE) };
  }
  const evidence = [...v.evidence];
  // An `ended` event's evidence is why it ended, not evidence of use.
  if (e.kind !== 'ended') for (const line of e.evidence) if (evidence.length < MAX_EVIDENCE && !evidence.includes(line)) evidence.push(line);
  return {
    ...v, state: maxState(v.state, e.state), via: mergeVia(v.via, e.via), user: v.user ?? e.user ?? null,
    startedAt: Math.min(v.startedAt, at), endedAt: e.kind === 'ended' ? Math.max(v.endedAt ?? at, at) : v.endedAt, evidence,
  };
}

/** The hash of an agent id as an advisory lock key (two int4 keys: class 0x6367 'cg', then the id's hash). */
export const AGENT_LOCK = 'SELECT pg_advisory_xact_lock(25447, hashtext($1))';

/** Violations of one agent named in slices that fit a notification (PostgreSQL caps payloads at 8000 bytes). */
async function announce(c: ClientBase, notify: NotifyInTransaction | undefined, agentId: string, ids: string[]): Promise<void> {
  if (!notify) return;
  for (let i = 0; i < ids.length; i += 50) await notify(c, 'violations', JSON.stringify({ agentId, ids: ids.slice(i, i + 50) }));
}

/**
 * `notify`: the change feed's in-transaction NOTIFY. Ingest announces what each batch touched
 * inside its own transaction, so other instances' dashboards hear of every committed change,
 * even one whose server was killed between COMMIT and anything after it.
 *
 * `rollups`: the roll-ups move with every violation in the same transaction (rollups.ts).
 */
export function createPgViolationStore(db: PgDb, people: PgPeople, rollups: PgRollups, now: () => number = Date.now, notify?: NotifyInTransaction) {
  async function ingest(agent: { agentId: string; hostname: string; site: string | null }, events: Event[]): Promise<IngestResult> {
    const result: IngestResult = { stored: 0, duplicates: 0, touched: [], events: [] };
    if (events.length === 0) return result;
    return db.tx(async (c) => {
      const received = now();
      await c.query(AGENT_LOCK, [agent.agentId]);
      const inserted = await c.query<{ id: string }>(
        `INSERT INTO events (agent_id, id, violation_id, kind, at, body, received_at)
         SELECT $1, id, vid, kind, at, body, $7 FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[], $6::jsonb[]) AS u(id, vid, kind, at, body)
         ON CONFLICT (agent_id, id) DO NOTHING RETURNING id`,
        [agent.agentId, events.map((e) => e.id), events.map((e) => e.violationId), events.map((e) => e.kind), events.map((e) => Date.parse(e.at)), events.map((e) => JSON.stringify(e)), received],
      );
      const fresh = new Set(inserted.rows.map((r) => r.id));
      for (const e of events) {
        // The first of two copies of one id in a batch is the stored one, as with SQLite.
        if (!fresh.delete(e.id)) {
          result.duplicates++;
          continue;
        }
        result.stored++;
        result.events.push(e);
        if (!result.touched.includes(e.violationId)) result.touched.push(e.violationId);
      }
      if (result.stored === 0) return result;
      await people.see(c, result.events.map((e) => e.user));
      // Announced first (NOTIFY is queued until COMMIT): the roll-up upserts go last, so the shared rows are held only until COMMIT.
      await announce(c, notify, agent.agentId, result.touched);
      await rollups.track(c, result.touched.map((id) => [agent.agentId, id] as const), () => write(c, agent, result));
      return result;
    });
  }

  /** Folds a batch's stored events into their violations and writes them back (inside ingest's transaction). */
  async function write(c: ClientBase, agent: { agentId: string; hostname: string; site: string | null }, result: IngestResult): Promise<void> {
    const existing = await c.query<Row>('SELECT * FROM violations WHERE agent_id = $1 AND id = ANY($2::text[]) ORDER BY seq FOR UPDATE', [agent.agentId, result.touched]);
    const folded = new Map<string, Folded>();
    for (const r of existing.rows) {
      folded.set(r.id, { seq: r.seq, id: r.id, user: r.user, app: r.app, state: r.state as AppState, via: r.via as Via, startedAt: r.started_at, endedAt: r.ended_at, evidence: JSON.parse(r.evidence) as string[] });
    }
    for (const e of result.events) folded.set(e.violationId, foldEvent(folded.get(e.violationId), e));
    const all = [...folded.values()];
    const added = all.filter((v) => v.seq === 0);
    const changed = all.filter((v) => v.seq !== 0);
    const t = now();
    if (added.length > 0) {
      await c.query(
        `INSERT INTO violations (id, agent_id, hostname, site, "user", app, state, via, started_at, ended_at, evidence, updated_at)
         SELECT id, $1, $2, $3, u, app, state, via, s, e, ev, $4
         FROM unnest($5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::bigint[], $11::bigint[], $12::text[]) AS x(id, u, app, state, via, s, e, ev)`,
        [agent.agentId, agent.hostname, agent.site, t, added.map((v) => v.id), added.map((v) => v.user), added.map((v) => v.app), added.map((v) => v.state),
          added.map((v) => v.via), added.map((v) => v.startedAt), added.map((v) => v.endedAt), added.map((v) => JSON.stringify(v.evidence))],
      );
    }
    if (changed.length > 0) {
      await c.query(
        `UPDATE violations v SET state = x.state, via = x.via, "user" = x.u, started_at = x.s, ended_at = x.e, evidence = x.ev, updated_at = $1
         FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[], $8::text[]) AS x(seq, state, via, u, s, e, ev)
         WHERE v.seq = x.seq`,
        [t, changed.map((v) => v.seq), changed.map((v) => v.state), changed.map((v) => v.via), changed.map((v) => v.user),
          changed.map((v) => v.startedAt), changed.map((v) => v.endedAt), changed.map((v) => JSON.stringify(v.evidence))],
      );
    }
  }

  const toViolation = (r: Row): Violation => toViolationView(r, people, now());

  /** `limit` + 1 rows read: the page, and its cursor when there is more. */
  function page<R extends Row>(rows: R[], limit: number, shown: (r: R) => Violation) {
    const more = rows.length > limit;
    const items = more ? rows.slice(0, limit) : rows;
    const last = items[items.length - 1];
    return { items: items.map(shown), next: more && last ? { startedAt: last.started_at, seq: last.seq } : null };
  }

  /** The WHERE clause and parameters of a feed filter (and cursor), as SQLite's `list` builds them. */
  function where(filter: ViolationFilter, cursor?: FeedCursor): { sql: string; args: unknown[] } {
    const clauses: string[] = [];
    const args: unknown[] = [];
    const p = (v: unknown) => {
      args.push(v);
      return `$${args.length}`;
    };
    if (filter.app) clauses.push(`app = ${p(filter.app)}`);
    if (filter.agent) clauses.push(`agent_id = ${p(filter.agent)}`);
    if (filter.site) clauses.push(`site = ${p(filter.site)}`);
    if (filter.state) clauses.push(`state = ${p(filter.state)}`);
    if (filter.since !== undefined) clauses.push(`started_at >= ${p(filter.since)}`);
    if (filter.until !== undefined) clauses.push(`started_at < ${p(filter.until)}`);
    if (filter.hostname) clauses.push(`hostname = ${p(filter.hostname)}`);
    if (filter.user === 'erased') clauses.push(`"user" LIKE 'x:%'`);
    else if (filter.user) {
      const u = p(filter.user);
      const byPseudonym = `"user" IN (SELECT name FROM people WHERE pseudonym = ${u})`;
      clauses.push(people.showNames ? `("user" = ${u} OR ${byPseudonym})` : byPseudonym);
    }
    if (filter.q) {
      // Free text never matches a hidden name: that would tell a name from its pseudonym.
      const q = p(`%${filter.q.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`);
      const who = `"user" IN (SELECT name FROM people WHERE pseudonym LIKE ${q})${people.showNames ? ` OR "user" LIKE ${q}` : ''}`;
      clauses.push(`(hostname LIKE ${q} OR ${who} OR app LIKE ${q} OR site LIKE ${q})`);
    }
    if (cursor) clauses.push(`(started_at, seq) < (${p(cursor.startedAt)}, ${p(cursor.seq)})`);
    return { sql: clauses.length ? `WHERE ${clauses.join(' AND ')}` : '', args };
  }

  /** Newest first, keyset-paginated: `cursor` is the last row's (started_at, seq). */
  async function list(filter: ViolationFilter, limit: number, cursor?: FeedCursor) {
    const w = where(filter, cursor);
    const { rows } = await db.query<Row>(`SELECT * FROM violations ${w.sql} ORDER BY started_at DESC, seq DESC LIMIT ${Math.max(0, Math.floor(limit)) + 1}`, w.args);
    return page(rows, limit, toViolation);
  }

  /**
   * `list` with each violation's exception, in one statement: the page is chosen inside (the
   * same WHERE, order and plan as `list`), and only its rows are joined to their claims by
   * the exceptions primary key. One round trip instead of two on every feed view.
   */
  async function feed(filter: ViolationFilter, limit: number, cursor?: FeedCursor) {
    const w = where(filter, cursor);
    const { rows } = await db.query<Row & ClaimColumns>(
      `SELECT p.*, ${CLAIM_COLUMNS} FROM (SELECT * FROM violations ${w.sql} ORDER BY started_at DESC, seq DESC LIMIT ${Math.max(0, Math.floor(limit)) + 1}) p
       LEFT JOIN exceptions e ON e.agent_id = p.agent_id AND e.violation_id = p.id
       ORDER BY p.started_at DESC, p.seq DESC`,
      w.args,
    );
    return page(rows, limit, (r) => ({ ...toViolation(r), exception: claimOf(r) }));
  }

  /**
   * Every matching violation, newest first, in pages of `pageSize` read through a
   * server-side cursor on one connection (a CSV export of a year holds one page in memory;
   * the caller asks for the next page only when it has written the last one: backpressure).
   */
  async function* stream(filter: ViolationFilter, pageSize = 500): AsyncGenerator<Violation[]> {
    const w = where(filter);
    const client = await connect(db);
    // A cursor lives inside a transaction; REPEATABLE READ gives the export one snapshot.
    let broken = false;
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const cursor = client.query(new Cursor<Row>(`SELECT * FROM violations ${w.sql} ORDER BY started_at DESC, seq DESC`, w.args));
      try {
        for (;;) {
          const rows = await cursor.read(pageSize);
          if (rows.length === 0) break;
          yield rows.map(toViolation);
        }
      } finally {
        await cursor.close().catch(() => (broken = true));
      }
      await client.query('COMMIT');
    } catch (err) {
      broken = true;
      mapError(err, db.where);
    } finally {
      client.release(broken);
    }
  }

  async function ingestNudges(agentId: string, nudges: NudgeOutcome[]): Promise<{ stored: number; touched: string[] }> {
    if (nudges.length === 0) return { stored: 0, touched: [] };
    return db.tx(async (c) => {
      const received = now();
      const touched: string[] = [];
      let stored = 0;
      await people.see(c, nudges.map((n) => n.user));
      const pairs = [...new Set(nudges.map((n) => n.violationId))].map((id) => [agentId, id] as const);
      await rollups.track(c, pairs, async () => {
        for (const n of nudges) {
          const at = Date.parse(n.at);
          const ins = await c.query(
            'INSERT INTO nudges (agent_id, id, violation_id, app, "user", outcome, at, detail, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (agent_id, id) DO NOTHING',
            [agentId, n.id, n.violationId, n.app, n.user ?? null, n.outcome, at, n.detail ?? null, received],
          );
          if (ins.rowCount === 0) continue;
          stored++;
          if (n.outcome === 'shown') await c.query('UPDATE violations SET nudge_shown_at = COALESCE(nudge_shown_at, $1), updated_at = $2 WHERE agent_id = $3 AND id = $4', [at, received, agentId, n.violationId]);
          if (n.outcome === 'clicked') await c.query('UPDATE violations SET nudge_shown_at = COALESCE(nudge_shown_at, $1), nudge_clicked_at = COALESCE(nudge_clicked_at, $1), updated_at = $2 WHERE agent_id = $3 AND id = $4', [at, received, agentId, n.violationId]);
          if (!touched.includes(n.violationId)) touched.push(n.violationId);
        }
      });
      await announce(c, notify, agentId, touched);
      return { stored, touched };
    });
  }

  const rowOf = async (agentId: string, id: string): Promise<Row | undefined> => (await db.query<Row>('SELECT * FROM violations WHERE agent_id = $1 AND id = $2', [agentId, id])).rows[0];

  async function get(agentId: string, id: string): Promise<Violation | null> {
    const row = await rowOf(agentId, id);
    return row ? toViolation(row) : null;
  }

  /** A violation with its timeline (events, nudges, reviews, reveals), oldest first. */
  async function detail(agentId: string, id: string) {
    const row = await rowOf(agentId, id);
    if (!row) return null;
    const args = [agentId, id];
    const [events, nudges, reviews, reveals] = await Promise.all([
      db.query<{ kind: string; at: number; body: Event }>('SELECT kind, at, body FROM events WHERE agent_id = $1 AND violation_id = $2 ORDER BY at', args),
      db.query<{ outcome: string; at: number; detail: string | null }>('SELECT outcome, at, detail FROM nudges WHERE agent_id = $1 AND violation_id = $2 ORDER BY at', args),
      db.query<{ status: string; by: string; at: number; note: string }>('SELECT status, "by", at, note FROM reviews WHERE agent_id = $1 AND violation_id = $2 ORDER BY at, seq', args),
      db.query<{ by: string; at: number; reason: string }>('SELECT "by", at, reason FROM reveals WHERE agent_id = $1 AND violation_id = $2 ORDER BY at, seq', args),
    ]);
    const timeline: TimelineEntry[] = [];
    for (const e of events.rows) timeline.push({ at: new Date(e.at).toISOString(), kind: e.kind as TimelineKind, state: e.body.state, evidence: e.body.evidence.map(people.showEvidence) });
    const NUDGE_KIND: Record<string, TimelineKind> = { shown: 'nudge-shown', clicked: 'nudge-clicked', dismissed: 'nudge-dismissed', suppressed: 'nudge-suppressed', 'app-closed': 'app-closed', failed: 'nudge-failed', exception: 'exception-claimed' };
    for (const n of nudges.rows) timeline.push({ at: new Date(n.at).toISOString(), kind: NUDGE_KIND[n.outcome] ?? 'nudge-failed', ...(n.detail ? { note: n.detail } : {}) });
    for (const r of reviews.rows) timeline.push({ at: new Date(r.at).toISOString(), kind: r.status as TimelineKind, by: r.by, note: r.note });
    for (const r of reveals.rows) timeline.push({ at: new Date(r.at).toISOString(), kind: 'name-revealed', by: r.by, note: r.reason });
    timeline.sort((a, b) => a.at.localeCompare(b.at));
    return { violation: toViolation(row), timeline };
  }

  async function acknowledge(agentId: string, id: string, status: 'acknowledged' | 'resolved', by: string, note: string): Promise<Violation | null> {
    const t = now();
    const done = await db.tx(async (c) => {
      const upd = await c.query('UPDATE violations SET ack_status = $1, ack_by = $2, ack_at = $3, ack_note = $4, updated_at = $3 WHERE agent_id = $5 AND id = $6', [status, by, t, note, agentId, id]);
      if (upd.rowCount === 0) return false;
      await c.query('INSERT INTO reviews (agent_id, violation_id, status, "by", at, note) VALUES ($1, $2, $3, $4, $5, $6)', [agentId, id, status, by, t, note]);
      return true;
    });
    return done ? get(agentId, id) : null;
  }

  const agentsWithId = async (id: string): Promise<string[]> => (await db.query<{ agent_id: string }>('SELECT agent_id FROM violations WHERE id = $1 LIMIT 10', [id])).rows.map((r) => r.agent_id);

  /**
   * Per-day counts by app and in-call minutes in the clinic's time zone: from the roll-ups
   * when they are counted in `timezone`, else from the violations (15-minute buckets, as SQLite).
   */
  async function trends(since: number, until: number, timezone: string): Promise<Trends> {
    const tally = await pgTallyRange(db, await rollups.readyTz(), since, until, timezone, now());
    if (tally) return trendsFromTally(tally, timezone);
    const BUCKET = 900_000;
    const range = [since, until];
    const [dayRows, sites, hosts, n] = await Promise.all([
      db.query<{ bucket: number; app: string; n: number; incall: number }>(
        `SELECT started_at / ${BUCKET} AS bucket, app, count(*) AS n,
           sum(CASE WHEN state = 'in-call' THEN (coalesce(ended_at, $3) - started_at) ELSE 0 END) / 60000.0 AS incall
         FROM violations WHERE started_at >= $1 AND started_at < $2 GROUP BY bucket, app`,
        [...range, now()],
      ),
      db.query<{ key: string | null; count: number }>('SELECT site AS key, count(*) AS count FROM violations WHERE started_at >= $1 AND started_at < $2 GROUP BY site ORDER BY count DESC, site LIMIT 10', range),
      db.query<{ key: string | null; count: number }>('SELECT hostname AS key, count(*) AS count FROM violations WHERE started_at >= $1 AND started_at < $2 GROUP BY hostname ORDER BY count DESC, hostname LIMIT 10', range),
      db.query<{ violations: number; shown: number; clicked: number }>(
        'SELECT count(*) AS violations, count(nudge_shown_at) AS shown, count(nudge_clicked_at) AS clicked FROM violations WHERE started_at >= $1 AND started_at < $2', range,
      ),
    ]);
    return {
      days: foldDays(dayRows.rows, timezone, BUCKET),
      timezone,
      topSites: sites.rows.map((r) => ({ site: r.key ?? '(no site)', count: r.count })),
      topWorkstations: hosts.rows.map((r) => ({ hostname: r.key ?? '', count: r.count })),
      nudges: n.rows[0]!,
    };
  }

  /** Distinct values for the dashboard's filter lists (most frequent first where capped). */
  async function filterValues(): Promise<FilterValues> {
    if ((await rollups.readyTz()) !== null) return pgFilterValues(db, people);
    // Column names are from this fixed list, never from a request.
    const distinct = async (col: 'app' | 'site' | 'hostname' | '"user"', limit: number) =>
      (await db.query<{ v: string }>(`SELECT ${col} AS v FROM violations WHERE ${col} IS NOT NULL GROUP BY ${col} ORDER BY count(*) DESC LIMIT ${limit}`)).rows.map((r) => r.v).sort();
    const [apps, sites, hostnames, rawUsers] = await Promise.all([distinct('app', 100), distinct('site', 500), distinct('hostname', 500), distinct('"user"', 500)]);
    const users = [...new Set(rawUsers.map((u) => people.show(u).user ?? ''))].filter(Boolean).sort();
    return { apps, sites, hostnames, users };
  }

  const storedUser = async (agentId: string, id: string): Promise<string | null> =>
    (await db.query<{ user: string | null }>('SELECT "user" FROM violations WHERE agent_id = $1 AND id = $2', [agentId, id])).rows[0]?.user ?? null;
  /** lower() on both sides, as SQLite's COLLATE NOCASE (ASCII there; PostgreSQL lowers all of Unicode). */
  const countByUser = async (user: string, since: number, until: number, site: string | null): Promise<number> =>
    (await db.query<{ n: number }>('SELECT count(*) AS n FROM violations WHERE lower("user") = lower($1) AND started_at >= $2 AND started_at <= $3 AND ($4::text IS NULL OR site = $4)', [user, since, until, site])).rows[0]!.n;

  return { ingest, ingestNudges, list, feed, stream, get, detail, acknowledge, agentsWithId, trends, filterValues, storedUser, countByUser };
}

export type PgViolationStore = ReturnType<typeof createPgViolationStore>;
