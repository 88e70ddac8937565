/**
 * The instances table (migration 012): which server instances use this store and which
 * policy versions each has loaded. Engine-neutral on purpose: four statements that any SQL
 * store can run (the PostgreSQL twin is in migration 012's comment).
 */
import { z } from 'zod';
import type { Db } from './db.js';

export const PolicyVersions = z.array(z.object({ name: z.string(), version: z.string() }));
export type PolicyVersions = z.infer<typeof PolicyVersions>;

export interface InstanceRow {
  instanceId: string;
  host: string;
  policyVersions: PolicyVersions;
  startedAt: number;
  seenAt: number;
}

/** A row written by another build may hold something else: it then counts as "no policies". */
function parseVersions(text: string): PolicyVersions {
  try {
    const parsed = PolicyVersions.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : [];
  } catch {
    return [];
  }
}

export function createInstanceStore(db: Db, now: () => number) {
  const upsert = db.prepare<[string, string, string, number, number]>(
    'INSERT INTO instances (instance_id, host, policy_versions, started_at, seen_at) VALUES (?, ?, ?, ?, ?) '
    + 'ON CONFLICT (instance_id) DO UPDATE SET host = excluded.host, policy_versions = excluded.policy_versions, seen_at = excluded.seen_at',
  );
  const since = db.prepare<[number], { instance_id: string; host: string; policy_versions: string; started_at: number; seen_at: number }>(
    'SELECT instance_id, host, policy_versions, started_at, seen_at FROM instances WHERE seen_at >= ? ORDER BY started_at, instance_id',
  );
  const prune = db.prepare<[number]>('DELETE FROM instances WHERE seen_at < ?');
  const remove = db.prepare<[string]>('DELETE FROM instances WHERE instance_id = ?');

  return {
    /** This instance is alive and has these policy versions loaded (its row, rewritten). */
    record(r: { instanceId: string; host: string; policyVersions: PolicyVersions; startedAt: number }): void {
      upsert.run(r.instanceId, r.host, JSON.stringify(r.policyVersions), r.startedAt, now());
    },
    /** Instances heard from in the last `maxAgeMs`, oldest first; older rows are deleted. */
    live(maxAgeMs: number): InstanceRow[] {
      const cutoff = now() - maxAgeMs;
      prune.run(cutoff);
      return since.all(cutoff).map((r) => {
        return { instanceId: r.instance_id, host: r.host, policyVersions: parseVersions(r.policy_versions), startedAt: r.started_at, seenAt: r.seen_at };
      });
    },
    /** A stopping instance leaves at once instead of lingering until it goes quiet. */
    remove(instanceId: string): void {
      remove.run(instanceId);
    },
  };
}

export type InstanceStore = ReturnType<typeof createInstanceStore>;
