/**
 * `rollups rebuild`: counts every violation into the roll-ups again, in `tz`, chunk by
 * chunk (rollups.ts `step`), each chunk one short transaction with a turn of the event
 * loop between, so a running server goes on ingesting (and keeps what it ingests counted)
 * while a year of violations is counted. `resume` continues a rebuild that was cut short
 * (same zone); otherwise the roll-ups are emptied first. The same on every OS.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Db } from './db.js';
import { createRollups, REBUILD_CHUNK } from './rollups.js';

export interface RebuildProgress { counted: number; total: number }

export async function rebuildRollups(db: Db, tz: string, opts: { resume?: boolean; chunk?: number; onProgress?: (p: RebuildProgress) => void } = {}): Promise<RebuildProgress> {
  const rollups = createRollups(db);
  const s = rollups.state();
  if (!(opts.resume && s.tz === tz)) rollups.reset(tz);
  let counted = 0;
  let total = rollups.remaining();
  for (let i = 1; ; i++) {
    const n = rollups.step(opts.chunk ?? REBUILD_CHUNK);
    if (n === 0) break;
    counted += n;
    // Violations ingested meanwhile are counted too: the total is looked at again now and then.
    if (i % 25 === 0) total = counted + rollups.remaining();
    opts.onProgress?.({ counted, total: Math.max(total, counted) });
    await nextTurn();
  }
  return { counted, total: Math.max(total, counted) };
}
