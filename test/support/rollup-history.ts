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

type Row = Record<string, string | number>;

/** Every roll-up table recounted from the violations, rows sorted as `dumpRollups` sorts them. */
export function recount(db: Db, tz: string, now: number): Record<string, Row[]> {
  const vs = db.prepare<[], { hostname: string; site: string | null; user: string | null; app: string; state: string; started_at: number; ended_at: number | null; shown: number; clicked: number; claimed: number; decision: string | null }>(
    `SELECT v.hostname, v.site, v.user, v.app, v.state, v.started_at, v.ended_at, v.nudge_shown_at IS NOT NULL AS shown, v.nudge_clicked_at IS NOT NULL AS clicked,
       e.violation_id IS NOT NULL AS claimed, e.decision FROM violations v LEFT JOIN exceptions e ON e.agent_id = v.agent_id AND e.violation_id = v.id`,
  ).all();
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

/** The roll-up tables as stored, in-call time of open violations resolved at `now`. */
export function dumpRollups(db: Db, now: number): Record<string, Row[]> {
  const out: Record<string, Row[]> = {};
  const sort = (rows: Row[]) => rows.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
  const full = 'n, incall_ms + open_incall * ? - open_start AS incall, shown, clicked, claimed, accepted, rejected';
  out.rollup_days = sort(db.prepare<[number], Row>(`SELECT day, app, state, ${full} FROM rollup_days`).all(now));
  out.rollup_site_days = sort(db.prepare<[number], Row>(`SELECT day, site, app, state, ${full} FROM rollup_site_days`).all(now));
  out.rollup_site_months = sort(db.prepare<[number], Row>(`SELECT month, site, app, state, ${full} FROM rollup_site_months`).all(now));
  out.rollup_host_days = sort(db.prepare<[], Row>('SELECT day, site, hostname, n FROM rollup_host_days').all());
  out.rollup_host_months = sort(db.prepare<[], Row>('SELECT month, site, hostname, n FROM rollup_host_months').all());
  out.filter_values = sort(db.prepare<[], Row>('SELECT kind, value, n FROM filter_values').all());
  return out;
}
