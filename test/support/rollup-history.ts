/**
 * A mixed history for roll-up tests, through the store's real ingest path: violations
 * started, updated to in-call, moved earlier by a late event (across a local midnight),
 * ended, batches resent, nudges shown and clicked, exceptions claimed and decided. Seeded:
 * the same history every run. Also an independent recount of every roll-up table from the
 * violations (plain SQL and localTime, none of rollups.ts).
 */
import type { Event, NudgeOutcome } from '../../shared/protocol.js';
import { localTime } from '../../shared/hours.js';
import type { Db } from '../../server/store/db.js';
import type { Store } from '../../server/store/index.js';

export const APPS = ['zoom', 'whatsapp', 'facetime', 'messenger', 'skype'];
const SITES: Array<string | null> = ['north', 'south', 'Coast', null, ''];

/** Deterministic PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ (t + t);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');
export const uuid = (kind: number, n: number) => `00000000-0000-4000-8${hex(kind, 3)}-${hex(n, 12)}`;
export const agentOf = (i: number) => ({ agentId: uuid(1, i), hostname: `WS-${i % 7 === 0 ? 'lab' : 'rm'}${i}`, site: SITES[i % SITES.length]! });

export interface HistoryOptions {
  violations: number;
  now: number;
  /** Start times spread over this many days before now. */
  days: number;
  seed?: number;
}

/** Feeds the history into `store` (ingest, nudges, exceptions, awaited one by one); answers the users it used. */
export async function ingestHistory(store: Store, o: HistoryOptions): Promise<string[]> {
  const rand = rng(o.seed ?? 7);
  const users = Array.from({ length: 9 }, (_, i) => `CLINIC\\dr.${['lee', 'ng', 'park', 'roy', 'sen', 'tan', 'uhl', 'vos', 'wu'][i]}`);
  let ev = 0;
  let nu = 0;
  for (let i = 0; i < o.violations; i++) {
    const agent = agentOf(Math.floor(rand() * 40));
    const vid = uuid(2, i);
    const user = rand() < 0.9 ? users[Math.floor(rand() * users.length)] : undefined;
    const app = APPS[Math.floor(rand() * APPS.length)]!;
    // Starts land on every quarter hour, midnights and DST nights included.
    const start = o.now - Math.floor(rand() * o.days * 96) * 900_000 - Math.floor(rand() * 900_000);
    const mk = (kind: Event['kind'], at: number, state: Event['state']): Event => ({
      id: uuid(3, ev++), violationId: vid, kind, app, state, via: 'process', pids: [100 + i], evidence: [`process ${app}`], at: new Date(at).toISOString(), ...(user ? { user } : {}),
    });
    const events: Event[] = [mk('started', start, 'running')];
    if (rand() < 0.4) events.push(mk('updated', start + 60_000 + Math.floor(rand() * 600_000), 'in-call'));
    if (rand() < 0.1) events.push(mk('updated', start - Math.floor(rand() * 3 * 3600_000), 'running')); // a late event from before: the start moves, maybe to the day before
    const ends = rand() < 0.8;
    const end = start + 120_000 + Math.floor(rand() * 3_600_000);
    if (ends && end < o.now) events.push(mk('ended', end, 'running'));
    // Sent in one or two batches, in order or not; some batches resent whole.
    const split = Math.floor(rand() * events.length) + 1;
    const first = events.slice(0, split);
    const second = events.slice(split);
    await store.violations.ingest(agent, first);
    if (second.length) await store.violations.ingest(agent, rand() < 0.3 ? second.reverse() : second);
    if (rand() < 0.15) await store.violations.ingest(agent, events); // a resend: nothing may change
    const nudges: NudgeOutcome[] = [];
    const nudge = (outcome: NudgeOutcome['outcome'], extra: Partial<NudgeOutcome> = {}): NudgeOutcome => ({ id: uuid(4, nu++), violationId: vid, app, outcome, at: new Date(start + 30_000).toISOString(), ...(user ? { user } : {}), ...extra });
    if (rand() < 0.5) nudges.push(nudge('shown'));
    if (rand() < 0.2) nudges.push(nudge('clicked'));
    if (rand() < 0.15) nudges.push(nudge('exception', { reason: 'emergency', until: new Date(start + 1_800_000).toISOString(), detail: 'exception claimed: Emergency' }));
    if (nudges.length) {
      await store.violations.ingestNudges(agent.agentId, nudges);
      await store.exceptions.ingest(agent.agentId, nudges);
      if (rand() < 0.3) await store.violations.ingestNudges(agent.agentId, nudges); // resent
    }
    if (nudges.some((n) => n.outcome === 'exception') && rand() < 0.6) await store.exceptions.decide(agent.agentId, vid, rand() < 0.5 ? 'accepted' : 'rejected', 'lead.a', '');
  }
  return users;
}

/** [zone, start (UTC), local day]: the last and first minute of local days in half-hour zones, across both DST changes. */
export const HALF_HOUR_DAYS: Array<[string, string, string]> = [
  ['Asia/Kolkata', '2026-06-10T18:29:59.000Z', '2026-06-10'], // 23:59:59 IST
  ['Asia/Kolkata', '2026-06-10T18:30:00.000Z', '2026-06-11'], // 00:00 IST
  ['Australia/Adelaide', '2026-04-04T13:29:00.000Z', '2026-04-04'], // 23:59 ACDT (+10:30), the night DST ends
  ['Australia/Adelaide', '2026-04-04T13:30:00.000Z', '2026-04-05'],
  ['Australia/Adelaide', '2026-04-05T14:29:00.000Z', '2026-04-05'], // 23:59 ACST (+9:30), after the change
  ['Australia/Adelaide', '2026-04-05T14:30:00.000Z', '2026-04-06'],
  ['Australia/Adelaide', '2026-10-03T14:29:00.000Z', '2026-10-03'], // 23:59 ACST, the night DST starts
  ['Australia/Adelaide', '2026-10-03T14:30:00.000Z', '2026-10-04'],
  ['Australia/Adelaide', '2026-10-04T13:29:00.000Z', '2026-10-04'], // 23:59 ACDT, after
  ['Australia/Adelaide', '2026-10-04T13:30:00.000Z', '2026-10-05'],
];

/** Ingests one violation per HALF_HOUR_DAYS case of `tz`; answers how many each local day should count. */
export async function ingestDayCases(store: Store, tz: string): Promise<Map<string, number>> {
  const mine = HALF_HOUR_DAYS.filter((c) => c[0] === tz);
  for (const [i, [, at]] of mine.entries()) await store.violations.ingest(agentOf(i), [{ id: uuid(3, i), violationId: uuid(2, i), kind: 'started', app: 'zoom', state: 'running', via: 'process', pids: [1], evidence: [], at }]);
  const want = new Map<string, number>();
  for (const [, , day] of mine) want.set(day, (want.get(day) ?? 0) + 1);
  return want;
}

export type Row = Record<string, string | number>;

/** A violation as the recount reads it (shown, clicked, claimed: 0 or 1). */
export interface RecountRow { hostname: string; site: string | null; user: string | null; app: string; state: string; started_at: number; ended_at: number | null; shown: number; clicked: number; claimed: number; decision: string | null }

/** The recount's query (plain SQL both engines run; `"user"` is quoted for PostgreSQL). */
export const RECOUNT_SQL = `SELECT v.hostname, v.site, v."user" AS "user", v.app, v.state, v.started_at, v.ended_at,
  CASE WHEN v.nudge_shown_at IS NOT NULL THEN 1 ELSE 0 END AS shown, CASE WHEN v.nudge_clicked_at IS NOT NULL THEN 1 ELSE 0 END AS clicked,
  CASE WHEN e.violation_id IS NOT NULL THEN 1 ELSE 0 END AS claimed, e.decision FROM violations v LEFT JOIN exceptions e ON e.agent_id = v.agent_id AND e.violation_id = v.id`;

/** Every roll-up table recounted from the violations, rows sorted as `dumpRollups` sorts them. */
export function recount(db: Db, tz: string, now: number): Record<string, Row[]> {
  return recountOf(db.prepare<[], RecountRow>(RECOUNT_SQL).all(), tz, now);
}

/** The recount of violations read by RECOUNT_SQL (from either engine). */
export function recountOf(vs: RecountRow[], tz: string, now: number): Record<string, Row[]> {
  const out: Record<string, Map<string, Row>> = {};
  const add = (table: string, key: Row, m: Row) => {
    const t = (out[table] ??= new Map());
    const id = JSON.stringify(key);
    const have = t.get(id);
    if (!have) t.set(id, { ...key, ...m });
    else for (const [k, v] of Object.entries(m)) have[k] = (have[k] as number) + (v as number);
  };
  for (const v of vs) {
    const day = localTime(tz, new Date(Math.floor(v.started_at / 900_000) * 900_000)).date;
    const site = v.site === null ? '' : `=${v.site}`;
    const inCall = v.state === 'in-call';
    const m = {
      n: 1, incall: inCall ? (v.ended_at ?? now) - v.started_at : 0, shown: v.shown, clicked: v.clicked,
      claimed: v.claimed, accepted: v.decision === 'accepted' ? 1 : 0, rejected: v.decision === 'rejected' ? 1 : 0,
    };
    add('rollup_days', { day, app: v.app, state: v.state }, m);
    add('rollup_site_days', { day, site, app: v.app, state: v.state }, m);
    add('rollup_site_months', { month: day.slice(0, 7), site, app: v.app, state: v.state }, m);
    add('rollup_host_days', { day, site, hostname: v.hostname }, { n: 1 });
    add('rollup_host_months', { month: day.slice(0, 7), site, hostname: v.hostname }, { n: 1 });
    if (v.user !== null) add('filter_values', { kind: 'user', value: v.user }, { n: 1 });
  }
  return Object.fromEntries(Object.entries(out).map(([t, m]) => [t, [...m.values()].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))]));
}

/** The queries of `dumpRollups` (`$now`: the instant open in-call violations are resolved at). */
export const DUMP_SQL: Record<string, string> = {
  rollup_days: 'SELECT day, app, state, $full FROM rollup_days',
  rollup_site_days: 'SELECT day, site, app, state, $full FROM rollup_site_days',
  rollup_site_months: 'SELECT month, site, app, state, $full FROM rollup_site_months',
  rollup_host_days: 'SELECT day, site, hostname, n FROM rollup_host_days',
  rollup_host_months: 'SELECT month, site, hostname, n FROM rollup_host_months',
  filter_values: 'SELECT kind, value, n FROM filter_values',
};
const FULL = 'n, incall_ms + open_incall * $now - open_start AS incall, shown, clicked, claimed, accepted, rejected';

/** The roll-up tables as stored (rows from `query`, either engine), sorted as `recount` sorts them. */
export async function dumpRollupsWith(query: (sql: string) => Promise<Row[]> | Row[], now: number): Promise<Record<string, Row[]>> {
  const out: Record<string, Row[]> = {};
  for (const [t, sql] of Object.entries(DUMP_SQL)) {
    out[t] = (await query(sql.replace('$full', FULL).replace('$now', String(Math.floor(now))))).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
  }
  return out;
}

/** The roll-up tables as stored in a SQLite store, in-call time of open violations resolved at `now`. */
export function dumpRollups(db: Db, now: number): Record<string, Row[]> {
  const out: Record<string, Row[]> = {};
  for (const [t, sql] of Object.entries(DUMP_SQL)) {
    out[t] = db.prepare<[], Row>(sql.replace('$full', FULL).replace('$now', String(Math.floor(now)))).all().sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
  }
  return out;
}
