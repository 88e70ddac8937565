/**
 * Roll-ups kept at ingest (schema and meaning: migrations/015_rollups.ts).
 *
 * A violation's contribution is a pure function of its row and its exception row. Every
 * change to a violation goes through `track(agentId, id, change)`: the contribution before,
 * the change, the contribution after, and the difference is added to the roll-up rows, in
 * the caller's transaction. So a state change moves one count from the old bucket to the
 * new one, an end adds in-call minutes, a resend (no change) adds nothing, a delete
 * (retention) takes the violation out again, and the roll-ups stay exactly a recount.
 *
 * Only violations with `seq <= rollup_state.through` are tracked: a rebuild counts the
 * rest chunk by chunk, in seq order, each chunk one short transaction (so ingest goes on
 * between them), and then sets `through` past every seq and `ready`.
 */
import { localTime } from '../../shared/hours.js';
import type { Statement } from 'better-sqlite3';
import type { Db } from './db.js';

/** `through` once ready: every violation, present and future, is tracked. */
export const ALL_SEQ = Number.MAX_SAFE_INTEGER;
export const REBUILD_CHUNK = 2_000;
const QUARTER = 900_000;

/** The violation columns a contribution reads (plus its exception's decision). */
export interface CountedRow {
  seq: number;
  hostname: string;
  site: string | null;
  user: string | null;
  app: string;
  state: string;
  started_at: number;
  ended_at: number | null;
  nudge_shown_at: number | null;
  nudge_clicked_at: number | null;
  /** null: no exception claimed; '' claimed, undecided; else the decision. */
  decision: string | null;
}

export const COUNTED_SQL = `SELECT v.seq, v.hostname, v.site, v.user, v.app, v.state, v.started_at, v.ended_at, v.nudge_shown_at, v.nudge_clicked_at,
  CASE WHEN e.violation_id IS NULL THEN NULL ELSE coalesce(e.decision, '') END AS decision
  FROM violations v LEFT JOIN exceptions e ON e.agent_id = v.agent_id AND e.violation_id = v.id`;

export const MEASURES = ['n', 'incall_ms', 'open_incall', 'open_start', 'shown', 'clicked', 'claimed', 'accepted', 'rejected'] as const;
type Measures = number[];

/** The roll-up tables, their key columns and measure columns (the PostgreSQL engine writes the same: pg/rollups.ts). */
export const TABLES = {
  rollup_days: { keys: ['day', 'app', 'state'], measures: MEASURES },
  rollup_site_days: { keys: ['day', 'site', 'app', 'state'], measures: MEASURES },
  rollup_site_months: { keys: ['month', 'site', 'app', 'state'], measures: MEASURES },
  rollup_host_days: { keys: ['day', 'site', 'hostname'], measures: ['n'] },
  rollup_host_months: { keys: ['month', 'site', 'hostname'], measures: ['n'] },
  filter_values: { keys: ['kind', 'value'], measures: ['n'] },
} as const;
export type Table = keyof typeof TABLES;
export const ROLLUP_TABLES = Object.keys(TABLES) as Table[];

/** A site as a key column: '' for none, '=' + the site otherwise ('' is a site an agent may send). */
export const siteKey = (site: string | null): string => (site === null ? '' : `=${site}`);
export const siteOf = (key: string): string | null => (key === '' ? null : key.slice(1));

/**
 * The local day of an instant, as the raw trends query has always grouped it: the
 * 15-minute bucket it falls in, mapped to its local date (exact for every real UTC offset,
 * half and quarter hours included, and for DST changes, which happen on quarter hours).
 */
export function dayKeyer(tz: string) {
  // Intl is slow (tens of µs a call): the zone's offset is looked up once per UTC hour,
  // and a quarter's date is plain arithmetic when the hour starts and ends on one offset
  // (a DST change inside the hour falls back to Intl for that hour's quarters).
  const offsets = new Map<number, number>();
  const offset = (hour: number): number => {
    let o = offsets.get(hour);
    if (o === undefined) {
      const t = hour * 3_600_000;
      const lt = localTime(tz, new Date(t));
      o = Date.parse(`${lt.date}T00:00:00Z`) + lt.minutes * 60_000 - t;
      if (offsets.size > 100_000) offsets.clear();
      offsets.set(hour, o);
    }
    return o;
  };
  return (at: number): string => {
    const start = Math.floor(at / QUARTER) * QUARTER;
    const hour = Math.floor(start / 3_600_000);
    const o = offset(hour);
    return o === offset(hour + 1) ? new Date(start + o).toISOString().slice(0, 10) : localTime(tz, new Date(start)).date;
  };
}

interface Cell { table: Table; key: string[]; m: Measures }

/** The rows one violation adds to (each with its measures). */
function cells(r: CountedRow, dayOf: (at: number) => string): Cell[] {
  const day = dayOf(r.started_at);
  const month = day.slice(0, 7);
  const inCall = r.state === 'in-call';
  const m: Measures = [
    1,
    inCall && r.ended_at !== null ? r.ended_at - r.started_at : 0,
    inCall && r.ended_at === null ? 1 : 0,
    inCall && r.ended_at === null ? r.started_at : 0,
    r.nudge_shown_at !== null ? 1 : 0,
    r.nudge_clicked_at !== null ? 1 : 0,
    r.decision !== null ? 1 : 0,
    r.decision === 'accepted' ? 1 : 0,
    r.decision === 'rejected' ? 1 : 0,
  ];
  const site = siteKey(r.site);
  const out: Cell[] = [
    { table: 'rollup_days', key: [day, r.app, r.state], m },
    { table: 'rollup_site_days', key: [day, site, r.app, r.state], m },
    { table: 'rollup_site_months', key: [month, site, r.app, r.state], m },
    { table: 'rollup_host_days', key: [day, site, r.hostname], m: [1] },
    { table: 'rollup_host_months', key: [month, site, r.hostname], m: [1] },
  ];
  // Apps, sites and workstations for the filter lists come from the month tables.
  if (r.user !== null) out.push({ table: 'filter_values', key: ['user', r.user], m: [1] });
  return out;
}

/** Sums of many contributions (sign -1 takes one away), keyed by table and key. */
export class Deltas {
  readonly cells = new Map<string, Cell>();
  add(r: CountedRow, dayOf: (at: number) => string, sign: 1 | -1): void {
    for (const c of cells(r, dayOf)) {
      const id = `${c.table}\u0000${c.key.join('\u0000')}`;
      const have = this.cells.get(id);
      if (have) for (let i = 0; i < c.m.length; i++) have.m[i]! += sign * c.m[i]!;
      else this.cells.set(id, { table: c.table, key: c.key, m: c.m.map((x) => sign * x) });
    }
  }
}

/** Upsert statements (the same SQL runs on PostgreSQL) and the zero-row clean-up. */
function writer(db: Db) {
  const upserts = new Map<Table, { add: Statement<unknown[]>; drop: Statement<unknown[]> }>();
  for (const t of ROLLUP_TABLES) {
    const { keys, measures } = TABLES[t];
    const cols = [...keys, ...measures];
    upserts.set(t, {
      add: db.prepare<unknown[]>(`INSERT INTO ${t} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})
        ON CONFLICT (${keys.join(', ')}) DO UPDATE SET ${measures.map((m) => `${m} = ${t}.${m} + excluded.${m}`).join(', ')}`),
      drop: db.prepare<unknown[]>(`DELETE FROM ${t} WHERE ${keys.map((k) => `${k} = ?`).join(' AND ')} AND n <= 0`),
    });
  }
  return (d: Deltas): void => {
    for (const c of d.cells.values()) {
      if (c.m.every((x) => x === 0)) continue;
      const s = upserts.get(c.table)!;
      s.add.run(...c.key, ...c.m);
      if (c.m[0]! < 0) s.drop.run(...c.key);
    }
  };
}

export interface RollupState { tz: string | null; through: number; ready: number; built_at: number | null }

export function createRollups(db: Db, now: () => number = Date.now) {
  const getState = db.prepare<[], RollupState>('SELECT tz, through, ready, built_at FROM rollup_state WHERE id = 1');
  const counted = db.prepare<[string, string], CountedRow>(`${COUNTED_SQL} WHERE v.agent_id = ? AND v.id = ?`);
  const apply = writer(db);
  let keyer: { tz: string; dayOf: (at: number) => string } | null = null;
  const dayOf = (tz: string) => {
    if (keyer?.tz !== tz) keyer = { tz, dayOf: dayKeyer(tz) };
    return keyer.dayOf;
  };

  /**
   * Runs `change` (which may insert, update or delete the violation agentId/id or its
   * exception) and moves the roll-ups by the difference. Call inside the transaction that
   * makes the change. Answers what `change` answered.
   */
  let pending: { state: RollupState; d: Deltas } | null = null;
  function track<T>(agentId: string, id: string, change: () => T): T {
    const state = pending?.state ?? getState.get()!;
    if (state.tz === null) return change();
    const before = counted.get(agentId, id);
    const out = change();
    const after = counted.get(agentId, id);
    const d = pending?.d ?? new Deltas();
    if (before && before.seq <= state.through) d.add(before, dayOf(state.tz), -1);
    if (after && after.seq <= state.through) d.add(after, dayOf(state.tz), 1);
    if (!pending) apply(d);
    return out;
  }

  /**
   * Runs `fn` (inside one transaction) with the changes of every `track` in it summed and
   * written once at the end: a batch of 20 violations of one app, day and workstation is
   * one upsert per table, not 20.
   */
  function batch<T>(fn: () => T): T {
    if (pending) return fn();
    pending = { state: getState.get()!, d: new Deltas() };
    try {
      const out = fn();
      apply(pending.d);
      return out;
    } finally {
      pending = null;
    }
  }

  /** Empties the roll-ups and starts counting again in `tz` (one transaction). */
  const reset = db.transaction((tz: string): void => {
    for (const t of ROLLUP_TABLES) db.prepare(`DELETE FROM ${t}`).run();
    db.prepare('UPDATE rollup_state SET tz = ?, through = 0, ready = 0, built_at = NULL WHERE id = 1').run(tz);
  }).immediate;

  const nextChunk = db.prepare<[number, number], CountedRow>(`${COUNTED_SQL} WHERE v.seq > ? ORDER BY v.seq LIMIT ?`);
  /**
   * Counts the next chunk of violations; answers how many (0: done, and now ready). IMMEDIATE:
   * it reads before it writes, and the server ingests beside it on another connection (a
   * deferred transaction would fail with SQLITE_BUSY when a batch commits in between).
   */
  const step = db.transaction((chunk: number): number => {
    const state = getState.get()!;
    if (state.tz === null || state.ready) return 0;
    const rows = nextChunk.all(state.through, chunk);
    if (rows.length === 0) {
      db.prepare('UPDATE rollup_state SET through = ?, ready = 1, built_at = ? WHERE id = 1').run(ALL_SEQ, now());
      return 0;
    }
    const d = new Deltas();
    const keyOf = dayOf(state.tz);
    for (const r of rows) d.add(r, keyOf, 1);
    apply(d);
    db.prepare('UPDATE rollup_state SET through = ? WHERE id = 1').run(rows[rows.length - 1]!.seq);
    return rows.length;
  }).immediate;

  return {
    state: (): RollupState => getState.get()!,
    /** True when reads in `tz` may use the roll-ups. */
    readyFor: (tz: string): boolean => {
      const s = getState.get()!;
      return s.ready === 1 && s.tz === tz;
    },
    /**
     * At server start, in the clinic's zone: an empty store starts counting at once; a
     * store already counted in `tz` is kept; otherwise it needs a rebuild (the answer).
     */
    prepare(tz: string): 'ready' | 'rebuild' | 'resume' {
      return db.transaction((): 'ready' | 'rebuild' | 'resume' => {
        const s = getState.get()!;
        if (s.tz === tz) return s.ready ? 'ready' : 'resume';
        const any = db.prepare('SELECT 1 FROM violations LIMIT 1').get();
        if (s.tz === null && !any) {
          db.prepare('UPDATE rollup_state SET tz = ?, through = ?, ready = 1, built_at = ? WHERE id = 1').run(tz, ALL_SEQ, now());
          return 'ready';
        }
        return 'rebuild';
      }).immediate();
    },
    track,
    batch,
    reset,
    step,
    /** Violations still to count by a running rebuild (for progress). */
    remaining: (): number => {
      const s = getState.get()!;
      return s.ready ? 0 : (db.prepare<[number], { n: number }>('SELECT count(*) AS n FROM violations WHERE seq > ?').get(s.through)?.n ?? 0);
    },
  };
}

export type Rollups = ReturnType<typeof createRollups>;
