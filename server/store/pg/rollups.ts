/**
 * Roll-ups on PostgreSQL: the same tables, keys and counts as the SQLite engine's
 * (server/store/rollups.ts defines them; its `Deltas` and `dayKeyer` do the counting here
 * too), kept in the transaction that changes a violation.
 *
 * Every change to what a violation counts happens while its row is locked (or, for a
 * violation not stored yet, under the agent's ingest lock). `track(c, pairs, change)` locks
 * the rows, reads their contributions, runs `change`, reads them after, and adds the difference with one
 * `INSERT ... ON CONFLICT DO UPDATE SET m = m + excluded.m` per table. Two instances
 * ingesting at once add to the same rows without losing either's count: the upsert takes
 * the row lock and adds to the committed value; rows go in key order, so two batches
 * never wait on each other crosswise. A row whose count falls to 0 is deleted.
 *
 * `rollup_state` is read FOR SHARE by every tracking transaction and locked FOR UPDATE by
 * a rebuild step, so a step never counts a row that a transaction still changing it has not
 * committed (the step waits for it), and `through` moves only between transactions.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { ALL_SEQ, Deltas, REBUILD_CHUNK, TABLES, ROLLUP_TABLES, dayKeyer, type CountedRow, type RollupState } from '../rollups.js';
import type { RebuildProgress } from '../rollup-rebuild.js';
import type { ClientBase } from 'pg';
import type { ClusterJobs } from '../types.js';
import type { PgDb } from './db.js';

/** The violation columns a contribution reads, with its exception's decision (rollups.ts COUNTED_SQL). */
export const PG_COUNTED = `SELECT v.seq, v.hostname, v.site, v."user" AS "user", v.app, v.state, v.started_at, v.ended_at, v.nudge_shown_at, v.nudge_clicked_at,
  CASE WHEN e.violation_id IS NULL THEN NULL ELSE coalesce(e.decision, '') END AS decision
  FROM violations v LEFT JOIN exceptions e ON e.agent_id = v.agent_id AND e.violation_id = v.id`;

/** (agent id, violation id) pairs. */
export type Pairs = Array<readonly [string, string]>;

const STATE = 'SELECT tz, through, ready, built_at FROM rollup_state WHERE id = 1';

/** The upsert and zero-row clean-up of one table, from arrays whose parameters start at $`at`. */
function statements(t: (typeof ROLLUP_TABLES)[number], at: number) {
  const { keys, measures } = TABLES[t];
  const cols = [...keys, ...measures];
  const arrays = cols.map((col, i) => `$${at + i}::${i < keys.length ? 'text' : 'bigint'}[]`).join(', ');
  const keyArrays = keys.map((_, i) => `$${at + i}::text[]`).join(', ');
  return {
    add: `INSERT INTO ${t} (${cols.join(', ')}) SELECT * FROM unnest(${arrays})
      ON CONFLICT (${keys.join(', ')}) DO UPDATE SET ${measures.map((m) => `${m} = ${t}.${m} + excluded.${m}`).join(', ')}`,
    drop: `DELETE FROM ${t} WHERE (${keys.join(', ')}) IN (SELECT * FROM unnest(${keyArrays})) AND n <= 0`,
  };
}

const byKey = (a: { key: string[] }, b: { key: string[] }) => {
  for (let i = 0; i < a.key.length; i++) if (a.key[i] !== b.key[i]) return a.key[i]! < b.key[i]! ? -1 : 1;
  return 0;
};

/**
 * Writes summed contributions in one statement (the upsert of every table as data-modifying
 * CTEs, tables in a fixed order, keys sorted: a fixed lock order), then, when a count fell,
 * one statement deleting the rows at 0. One round trip while the rows are locked, not six:
 * the hot rows (today, the common app) are held only from it to COMMIT.
 */
export async function applyDeltas(c: ClientBase, d: Deltas): Promise<void> {
  const byTable = new Map<string, Array<{ key: string[]; m: number[] }>>();
  for (const cell of d.cells.values()) {
    if (cell.m.every((x) => x === 0)) continue;
    const list = byTable.get(cell.table) ?? [];
    list.push({ key: cell.key, m: cell.m });
    byTable.set(cell.table, list);
  }
  const adds: string[] = [];
  const addArgs: unknown[] = [];
  const drops: string[] = [];
  const dropArgs: unknown[] = [];
  for (const t of ROLLUP_TABLES) {
    const list = byTable.get(t)?.sort(byKey);
    if (!list) continue;
    const { keys, measures } = TABLES[t];
    adds.push(`u${adds.length} AS (${statements(t, addArgs.length + 1).add})`);
    addArgs.push(...keys.map((_, i) => list.map((x) => x.key[i]!)), ...measures.map((_, i) => list.map((x) => x.m[i]!)));
    const shrunk = list.filter((x) => x.m[0]! < 0);
    if (shrunk.length === 0) continue;
    drops.push(`d${drops.length} AS (${statements(t, dropArgs.length + 1).drop})`);
    dropArgs.push(...keys.map((_, i) => shrunk.map((x) => x.key[i]!)));
  }
  if (adds.length) await c.query(`WITH ${adds.join(', ')} SELECT 1`, addArgs);
  if (drops.length) await c.query(`WITH ${drops.join(', ')} SELECT 1`, dropArgs);
}

export function createPgRollups(db: PgDb, now: () => number = Date.now) {
  let keyer: { tz: string; dayOf: (at: number) => string } | null = null;
  const dayOf = (tz: string) => {
    if (keyer?.tz !== tz) keyer = { tz, dayOf: dayKeyer(tz) };
    return keyer.dayOf;
  };
  const counted = async (c: ClientBase, pairs: Pairs, lock: boolean): Promise<CountedRow[]> => {
    // Each violation once, or it would count twice.
    const seen = new Set<string>();
    pairs = pairs.filter((p) => !seen.has(`${p[0]}\u0000${p[1]}`) && seen.add(`${p[0]}\u0000${p[1]}`));
    const args = [pairs.map((p) => p[0]), pairs.map((p) => p[1])];
    const join = 'JOIN unnest($1::text[], $2::text[]) AS k(a, i) ON v.agent_id = k.a AND v.id = k.i';
    // Locked first, read after, in two statements: a locking read that waited returns the
    // violation's newest version but the exception as of its own older snapshot, and would
    // miss a claim the transaction it waited for committed.
    if (lock) await c.query(`SELECT v.seq FROM violations v ${join} ORDER BY v.seq FOR UPDATE OF v`, args);
    return (await c.query<CountedRow>(`${PG_COUNTED} ${join} ORDER BY v.seq`, args)).rows;
  };

  /** The state for this transaction, held FOR SHARE until it ends (a rebuild step waits for it). */
  const shareState = async (c: ClientBase): Promise<RollupState> => (await c.query<RollupState>(`${STATE} FOR SHARE`)).rows[0]!;

  /**
   * Runs `change` (inside the caller's transaction `c`), which may insert, update or
   * delete the violations `pairs` or their exceptions, and moves the roll-ups by the
   * difference. Answers what `change` answered.
   */
  async function track<T>(c: ClientBase, pairs: Pairs, change: () => Promise<T>): Promise<T> {
    const state = await shareState(c);
    if (state.tz === null || pairs.length === 0) return change();
    const before = await counted(c, pairs, true);
    const out = await change();
    const after = await counted(c, pairs, false);
    const d = new Deltas();
    const keyOf = dayOf(state.tz);
    for (const r of before) if (r.seq <= state.through) d.add(r, keyOf, -1);
    for (const r of after) if (r.seq <= state.through) d.add(r, keyOf, 1);
    await applyDeltas(c, d);
    return out;
  }

  /** Takes violations out of the roll-ups (retention, before it deletes them; rows read with PG_COUNTED). */
  async function subtract(c: ClientBase, rows: CountedRow[]): Promise<void> {
    const state = await shareState(c);
    if (state.tz === null) return;
    const d = new Deltas();
    const keyOf = dayOf(state.tz);
    for (const r of rows) if (r.seq <= state.through) d.add(r, keyOf, -1);
    await applyDeltas(c, d);
  }

  const state = async (): Promise<RollupState> => (await db.query<RollupState>(STATE)).rows[0]!;

  /** Empties the roll-ups and starts counting again in `tz` (one transaction). */
  const reset = (tz: string): Promise<void> => db.tx(async (c) => {
    await c.query(`${STATE} FOR UPDATE`);
    for (const t of ROLLUP_TABLES) await c.query(`DELETE FROM ${t}`);
    await c.query('UPDATE rollup_state SET tz = $1, through = 0, ready = 0, built_at = NULL WHERE id = 1', [tz]);
  });

  /** Counts the next chunk of violations (seq order); answers how many (0: done, and now ready). */
  const step = (chunk: number): Promise<number> => db.tx(async (c) => {
    const s = (await c.query<RollupState>(`${STATE} FOR UPDATE`)).rows[0]!;
    if (s.tz === null || s.ready) return 0;
    const { rows } = await c.query<CountedRow>(`${PG_COUNTED} WHERE v.seq > $1 ORDER BY v.seq LIMIT $2`, [s.through, chunk]);
    if (rows.length === 0) {
      await c.query('UPDATE rollup_state SET through = $1, ready = 1, built_at = $2 WHERE id = 1', [ALL_SEQ, now()]);
      return 0;
    }
    const d = new Deltas();
    const keyOf = dayOf(s.tz);
    for (const r of rows) d.add(r, keyOf, 1);
    await applyDeltas(c, d);
    await c.query('UPDATE rollup_state SET through = $1 WHERE id = 1', [rows[rows.length - 1]!.seq]);
    return rows.length;
  });

  async function remaining(): Promise<number> {
    const s = await state();
    return s.ready ? 0 : (await db.query<{ n: number }>('SELECT count(*) AS n FROM violations WHERE seq > $1', [s.through])).rows[0]!.n;
  }

  return {
    state,
    track,
    subtract,
    /** The zone reads may use the roll-ups in, or null (not counted yet, or a rebuild runs). */
    readyTz: async (): Promise<string | null> => {
      const s = await state();
      return s.ready === 1 ? s.tz : null;
    },
    /** At server start, as rollups.ts `prepare`: 'ready', or what the caller must run (rebuild / resume). */
    prepare: (tz: string): Promise<'ready' | 'rebuild' | 'resume'> => db.tx(async (c) => {
      const s = (await c.query<RollupState>(`${STATE} FOR UPDATE`)).rows[0]!;
      if (s.tz === tz) return s.ready ? 'ready' : 'resume';
      const any = (await c.query('SELECT 1 FROM violations LIMIT 1')).rowCount;
      if (s.tz === null && !any) {
        await c.query('UPDATE rollup_state SET tz = $1, through = $2, ready = 1, built_at = $3 WHERE id = 1', [tz, ALL_SEQ, now()]);
        return 'ready';
      }
      return 'rebuild';
    }),
    /**
     * `rollups rebuild` on PostgreSQL (rollup-rebuild.ts on SQLite): empties the roll-ups
     * unless resuming in the same zone, then counts chunk by chunk, each chunk one short
     * transaction; ingest goes on meanwhile and what it changes stays counted.
     */
    async rebuild(tz: string, opts: { resume?: boolean; chunk?: number; onProgress?: (p: RebuildProgress) => void; signal?: AbortSignal } = {}): Promise<RebuildProgress> {
      const s = await state();
      if (!(opts.resume && s.tz === tz)) await reset(tz);
      let counted = 0;
      let total = await remaining();
      for (let i = 1; !opts.signal?.aborted; i++) {
        const n = await step(opts.chunk ?? REBUILD_CHUNK);
        if (n === 0) break;
        counted += n;
        if (i % 25 === 0) total = counted + (await remaining());
        opts.onProgress?.({ counted, total: Math.max(total, counted) });
        await nextTurn();
      }
      return { counted, total: Math.max(total, counted) };
    },
  };
}

export type PgRollups = ReturnType<typeof createPgRollups>;

interface RebuildLog { info(obj: object, msg: string): void; warn(obj: object, msg: string): void }

/**
 * At server start on PostgreSQL, as main.ts does for SQLite: roll-ups kept, started on an
 * empty store, or counted again here in the background (a store from before migration 5, or
 * a changed zone), once per cluster (`jobs`); trends read the violations until it is done.
 * A rebuild cut short (stop, or the instance killed) resumes at the next start.
 */
export function startPgRollups(rollups: PgRollups, jobs: ClusterJobs, tz: string, log: RebuildLog): { stop(): Promise<void> } {
  const abort = new AbortController();
  const done = (async () => {
    const plan = await rollups.prepare(tz);
    if (plan === 'ready') return;
    await jobs.runExclusive('rollups-rebuild', async () => {
      log.info({ timezone: tz, plan }, 'counting the trend roll-ups from the violations; trends read the violations until done');
      const r = await rollups.rebuild(tz, { resume: plan === 'resume', signal: abort.signal });
      if (!abort.signal.aborted) log.info({ timezone: tz, violations: r.counted }, 'trend roll-ups counted');
    });
  })().catch((err: unknown) => {
    if (!abort.signal.aborted) log.warn({ err }, 'could not count the trend roll-ups; trends read the violations; it is tried again at the next start (or run "rollups rebuild")');
  });
  return {
    async stop() {
      abort.abort();
      await done;
    },
  };
}
