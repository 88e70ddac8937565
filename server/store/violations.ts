/**
 * Events in, violations out. Each event is stored once per (agent, event id); a duplicate
 * (an agent resending a batch whose ack it never saw) is acknowledged and ignored. Stored
 * events are folded into their violation: first seen, highest state, merged evidence, end.
 */
import type { Event, NudgeOutcome } from '../../shared/protocol.js';
import type { FilterValues, TimelineEntry, TimelineKind, Trends, Violation } from '../../shared/api-types.js';
import { maxState, mergeVia, type AppState, type Via } from '../../shared/snapshot.js';
import type { Db } from './db.js';
import type { People } from './people.js';
import { toViolation as toViolationView, type ViolationRow as Row } from './rows.js';
import type { ViolationFilter } from './types.js';

export type { ViolationFilter } from './types.js';
import { createRollups, type Rollups } from './rollups.js';
import { filterValuesFromRollups } from './filter-values.js';
import { tallyRange } from './tally.js';
import { trendsFromTally } from './trends.js';
import { filterValuesFromRows, trendsFromRows } from './trends-raw.js';

const MAX_EVIDENCE = 32;

export type { Violation } from '../../shared/api-types.js';


/** One change of one violation, in the order changes are read (server/api/live-relay.ts). */
export interface ChangeKey {
  updatedAt: number;
  agentId: string;
  id: string;
}

export interface IngestResult {
  stored: number;
  duplicates: number;
  /** Violations opened or changed by this batch (for the live feed). */
  touched: string[];
  /** The events newly stored (for SIEM forwarding). */
  events: Event[];
}

/**
 * `people` decides how clinicians are shown: every read here (feed, detail, CSV, live feed,
 * trends, filter values) shows pseudonyms unless the server shows names; the real name
 * leaves the store only through reveals.ts (audited) and subjects.ts (data-subject requests).
 */
export function createViolationStore(db: Db, people: People, now: () => number = Date.now, rollups: Rollups = createRollups(db, now)) {
  const insertEvent = db.prepare(
    'INSERT OR IGNORE INTO events (agent_id, id, violation_id, kind, at, body, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
  );
  const getViolation = db.prepare<[string, string], Row>('SELECT * FROM violations WHERE agent_id = ? AND id = ?');
  const insertViolation = db.prepare(
    `INSERT INTO violations (id, agent_id, hostname, site, user, app, state, via, started_at, ended_at, evidence, updated_at)
     VALUES (@id, @agentId, @hostname, @site, @user, @app, @state, @via, @startedAt, @endedAt, @evidence, @now)`,
  );
  const updateViolation = db.prepare(
    `UPDATE violations SET state = @state, via = @via, user = @user, started_at = @startedAt, ended_at = @endedAt,
       evidence = @evidence, updated_at = @now WHERE seq = @seq`,
  );

  // Roll-ups move with the violation, in the same transaction (rollups.ts).
  const fold = (agent: { agentId: string; hostname: string; site: string | null }, e: Event): void => rollups.track(agent.agentId, e.violationId, () => foldRow(agent, e));

  function foldRow(agent: { agentId: string; hostname: string; site: string | null }, e: Event): void {
    const at = Date.parse(e.at);
    people.see(e.user);
    const row = getViolation.get(agent.agentId, e.violationId);
    if (!row) {
      insertViolation.run({
        id: e.violationId, agentId: agent.agentId, hostname: agent.hostname, site: agent.site,
        user: e.user ?? null, app: e.app, state: e.state, via: e.via, startedAt: at,
        endedAt: e.kind === 'ended' ? at : null, evidence: JSON.stringify(e.evidence.slice(0, MAX_EVIDENCE)), now: now(),
      });
      return;
    }
    const evidence = JSON.parse(row.evidence) as string[];
    // An `ended` event's evidence is why it ended, not evidence of use.
    if (e.kind !== 'ended') for (const line of e.evidence) if (evidence.length < MAX_EVIDENCE && !evidence.includes(line)) evidence.push(line);
    updateViolation.run({
      seq: row.seq,
      state: maxState(row.state as AppState, e.state),
      via: mergeVia(row.via as Via, e.via),
      user: row.user ?? e.user ?? null,
      startedAt: Math.min(row.started_at, at),
      endedAt: e.kind === 'ended' ? Math.max(row.ended_at ?? at, at) : row.ended_at,
      evidence: JSON.stringify(evidence),
      now: now(),
    });
  }

  /**
   * Stores a batch in one transaction; the caller acks only after this returns. IMMEDIATE, as
   * every transaction here that reads before it writes (the roll-up state first): a deferred
   * one that another connection (a roll-up rebuild's worker, a second instance, the CLI)
   * commits under between its first read and its first write fails at once with
   * SQLITE_BUSY, busy_timeout or not; an immediate one waits its turn.
   */
  const ingest = db.transaction((agent: { agentId: string; hostname: string; site: string | null }, events: Event[]): IngestResult => rollups.batch(() => {
    const received = now();
    const result: IngestResult = { stored: 0, duplicates: 0, touched: [], events: [] };
    for (const e of events) {
      const info = insertEvent.run(agent.agentId, e.id, e.violationId, e.kind, Date.parse(e.at), JSON.stringify(e), received);
      if (info.changes === 0) {
        result.duplicates++;
        continue;
      }
      result.stored++;
      result.events.push(e);
      fold(agent, e);
      if (!result.touched.includes(e.violationId)) result.touched.push(e.violationId);
    }
    return result;
  })).immediate;

  const toViolation = (r: Row): Violation => toViolationView(r, people, now());

  /** Newest first, keyset-paginated: `cursor` is the last row's (started_at, seq). */
  function list(filter: ViolationFilter, limit: number, cursor?: { startedAt: number; seq: number }) {
    const where: string[] = [];
    const args: Record<string, unknown> = { limit: limit + 1 };
    const add = (clause: string, values: Record<string, unknown>) => {
      where.push(clause);
      Object.assign(args, values);
    };
    if (filter.app) add('app = @app', { app: filter.app });
    if (filter.agent) add('agent_id = @agent', { agent: filter.agent });
    if (filter.site) add('site = @site', { site: filter.site });
    if (filter.state) add('state = @state', { state: filter.state });
    if (filter.since !== undefined) add('started_at >= @since', { since: filter.since });
    if (filter.until !== undefined) add('started_at < @until', { until: filter.until });
    if (filter.hostname) add('hostname = @hostname', { hostname: filter.hostname });
    if (filter.user === 'erased') add("user LIKE 'x:%'", {});
    else if (filter.user) {
      // By pseudonym: every spelling of that person (people table), through the user index.
      const byPseudonym = 'user IN (SELECT name FROM people WHERE pseudonym = @user)';
      add(people.showNames ? `(user = @user OR ${byPseudonym})` : byPseudonym, { user: filter.user });
    }
    if (filter.q) {
      // LIKE with escaped wildcards; bounded in practice by the time range the dashboard sends.
      // Free text never matches a hidden name: that would tell a name from its pseudonym.
      const like = `%${filter.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      const who = `user IN (SELECT name FROM people WHERE pseudonym LIKE @q ESCAPE '\\')${people.showNames ? " OR user LIKE @q ESCAPE '\\'" : ''}`;
      add(`(hostname LIKE @q ESCAPE '\\' OR ${who} OR app LIKE @q ESCAPE '\\' OR site LIKE @q ESCAPE '\\')`, { q: like });
    }
    if (cursor) add('(started_at, seq) < (@cStart, @cSeq)', { cStart: cursor.startedAt, cSeq: cursor.seq });
    const sql = `SELECT * FROM violations ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY started_at DESC, seq DESC LIMIT @limit`;
    const rows = db.prepare<Record<string, unknown>, Row>(sql).all(args);
    const more = rows.length > limit;
    const page = more ? rows.slice(0, limit) : rows;
    const last = page[page.length - 1];
    return { items: page.map(toViolation), next: more && last ? { startedAt: last.started_at, seq: last.seq } : null };
  }

  const insertNudge = db.prepare(
    'INSERT OR IGNORE INTO nudges (agent_id, id, violation_id, app, user, outcome, at, detail, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const markShown = db.prepare('UPDATE violations SET nudge_shown_at = COALESCE(nudge_shown_at, ?), updated_at = ? WHERE agent_id = ? AND id = ?');
  const markClicked = db.prepare('UPDATE violations SET nudge_shown_at = COALESCE(nudge_shown_at, ?), nudge_clicked_at = COALESCE(nudge_clicked_at, ?), updated_at = ? WHERE agent_id = ? AND id = ?');

  /** Stores nudge outcomes once each and marks their violations; the caller acks after. */
  const ingestNudges = db.transaction((agentId: string, nudges: NudgeOutcome[]): { stored: number; touched: string[] } => rollups.batch(() => {
    const received = now();
    const touched: string[] = [];
    let stored = 0;
    for (const n of nudges) {
      const at = Date.parse(n.at);
      people.see(n.user);
      if (insertNudge.run(agentId, n.id, n.violationId, n.app, n.user ?? null, n.outcome, at, n.detail ?? null, received).changes === 0) continue;
      stored++;
      if (n.outcome === 'shown') rollups.track(agentId, n.violationId, () => markShown.run(at, received, agentId, n.violationId));
      if (n.outcome === 'clicked') rollups.track(agentId, n.violationId, () => markClicked.run(at, at, received, agentId, n.violationId));
      if (!touched.includes(n.violationId)) touched.push(n.violationId);
    }
    return { stored, touched };
  })).immediate;

  function get(agentId: string, id: string): Violation | null {
    const row = getViolation.get(agentId, id);
    return row ? toViolation(row) : null;
  }

  /**
   * A violation by agent and id, with its timeline (events, nudges, reviews), oldest
   * first. Both parts: a violationId is only unique per agent (agents make their own).
   */
  function detail(agentId: string, id: string) {
    const row = getViolation.get(agentId, id);
    if (!row) return null;
    const events = db.prepare<[string, string], { kind: string; at: number; body: string }>('SELECT kind, at, body FROM events WHERE agent_id = ? AND violation_id = ? ORDER BY at').all(agentId, id);
    const nudges = db.prepare<[string, string], { outcome: string; at: number; detail: string | null }>('SELECT outcome, at, detail FROM nudges WHERE agent_id = ? AND violation_id = ? ORDER BY at').all(agentId, id);
    const timeline: TimelineEntry[] = [];
    for (const e of events) {
      const body = JSON.parse(e.body) as Event;
      timeline.push({ at: new Date(e.at).toISOString(), kind: e.kind as TimelineKind, state: body.state, evidence: body.evidence.map(people.showEvidence) });
    }
    const NUDGE_KIND: Record<string, TimelineKind> = { shown: 'nudge-shown', clicked: 'nudge-clicked', dismissed: 'nudge-dismissed', suppressed: 'nudge-suppressed', 'app-closed': 'app-closed', failed: 'nudge-failed', exception: 'exception-claimed' };
    for (const n of nudges) timeline.push({ at: new Date(n.at).toISOString(), kind: NUDGE_KIND[n.outcome] ?? 'nudge-failed', ...(n.detail ? { note: n.detail } : {}) });
    const reviews = db.prepare<[string, string], { status: string; by: string; at: number; note: string }>('SELECT status, by, at, note FROM reviews WHERE agent_id = ? AND violation_id = ? ORDER BY at, seq').all(agentId, id);
    for (const r of reviews) timeline.push({ at: new Date(r.at).toISOString(), kind: r.status as TimelineKind, by: r.by, note: r.note });
    // Who saw the clinician's name, and why: the reason, never the name.
    const reveals = db.prepare<[string, string], { by: string; at: number; reason: string }>('SELECT by, at, reason FROM reveals WHERE agent_id = ? AND violation_id = ? ORDER BY at, seq').all(agentId, id);
    for (const r of reveals) timeline.push({ at: new Date(r.at).toISOString(), kind: 'name-revealed', by: r.by, note: r.reason });
    timeline.sort((a, b) => a.at.localeCompare(b.at));
    return { violation: toViolation(row), timeline };
  }

  /** Acknowledges or resolves one agent's violation (never another agent's with the same id). */
  function acknowledge(agentId: string, id: string, status: 'acknowledged' | 'resolved', by: string, note: string): Violation | null {
    const t = now();
    const done = db.transaction(() => {
      const row = getViolation.get(agentId, id);
      if (!row) return false;
      db.prepare('UPDATE violations SET ack_status = ?, ack_by = ?, ack_at = ?, ack_note = ?, updated_at = ? WHERE seq = ?').run(status, by, t, note, t, row.seq);
      db.prepare('INSERT INTO reviews (agent_id, violation_id, status, by, at, note) VALUES (?, ?, ?, ?, ?, ?)').run(agentId, id, status, by, t, note);
      return true;
    }).immediate(); // reads, then writes: see ingest
    return done ? get(agentId, id) : null;
  }

  /**
   * Violations committed with (updated_at, agent_id, id) after `after` (updated_at on this
   * store's clock, ms), oldest change first, up to `limit`, read from the covering index alone;
   * the caller then reads (`get`) only the ones it has not shown. What instances sharing this
   * store relay to their dashboards (server/api/live-relay.ts).
   */
  const changesStmt = db.prepare<[number, string, string, number], { agent_id: string; id: string; updated_at: number }>(
    'SELECT updated_at, agent_id, id FROM violations INDEXED BY violations_updated WHERE (updated_at, agent_id, id) > (?, ?, ?) ORDER BY updated_at, agent_id, id LIMIT ?',
  );
  const changedSince = (after: ChangeKey, limit: number): ChangeKey[] =>
    changesStmt.all(after.updatedAt, after.agentId, after.id, limit).map((r) => ({ updatedAt: r.updated_at, agentId: r.agent_id, id: r.id }));

  /** The agents holding a violation with this id (for a helpful answer to an old single-id address). */
  const agentsWithId = (id: string): string[] => db.prepare<[string], { agent_id: string }>('SELECT agent_id FROM violations WHERE id = ? LIMIT 10').all(id).map((r) => r.agent_id);

  /**
   * Per-day counts by app and in-call minutes (days in the clinic's time zone), top sites
   * and workstations, nudges: from roll-ups when they are counted in `timezone`, else from
   * the violations (trends-raw.ts).
   */
  function trends(since: number, until: number, timezone: string): Trends {
    const t = tallyRange(db, rollups.state().ready ? rollups.state().tz : null, since, until, timezone, now());
    return t ? trendsFromTally(t, timezone) : trendsFromRows(db, now(), since, until, timezone);
  }

  /** Distinct values for the dashboard's filter lists (most frequent first where capped). */
  function filterValues(): FilterValues {
    return rollups.state().ready ? filterValuesFromRollups(db, people) : filterValuesFromRows(db, people);
  }

  return { ingest, ingestNudges, list, get, detail, acknowledge, agentsWithId, changedSince, trends, filterValues };
}

export type ViolationStore = ReturnType<typeof createViolationStore>;
