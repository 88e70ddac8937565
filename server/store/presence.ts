/**
 * The presence table (migration 016): which instance holds which agent's socket, so every
 * instance on one store answers "online?" the same way. Written in batches by
 * server/gateway/presence.ts; a row counts only while its instance's row in `instances` is
 * fresh, so the agents of a killed instance go offline once its heartbeat expires.
 */
import type { Db } from './db.js';

export function createPresenceStore(db: Db, now: () => number) {
  const hold = db.prepare<[string, string]>('INSERT INTO presence (instance_id, agent_id) VALUES (?, ?) ON CONFLICT DO NOTHING');
  const release = db.prepare<[string, string]>('DELETE FROM presence WHERE instance_id = ? AND agent_id = ?');
  const clear = db.prepare<[string]>('DELETE FROM presence WHERE instance_id = ?');
  const count = db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM presence WHERE instance_id = ?');
  const orphans = db.prepare('DELETE FROM presence WHERE instance_id NOT IN (SELECT instance_id FROM instances)');
  // No DISTINCT: its temporary b-tree tripled the read at 20,000 rows; a Set drops the twins.
  const elsewhere = db.prepare<[number, string], { agent_id: string }>(
    'SELECT p.agent_id FROM presence p JOIN instances i ON i.instance_id = p.instance_id WHERE i.seen_at >= ? AND p.instance_id <> ?',
  );

  const update = db.transaction((instanceId: string, held: string[], released: string[]) => {
    for (const id of released) release.run(instanceId, id);
    for (const id of held) hold.run(instanceId, id);
  });
  const replace = db.transaction((instanceId: string, held: string[]) => {
    clear.run(instanceId);
    for (const id of held) hold.run(instanceId, id);
  });

  return {
    /** This instance took these agents' sockets and lost those (one transaction). */
    update(instanceId: string, change: { held: string[]; released: string[] }): void {
      update(instanceId, change.held, change.released);
    },
    /** This instance holds exactly these agents (its rows rewritten; [] when it stops). */
    replace(instanceId: string, held: string[]): void {
      replace(instanceId, held);
    },
    /** How many agents the store says this instance holds (to notice rows lost or never written). */
    count(instanceId: string): number {
      return count.get(instanceId)?.n ?? 0;
    },
    /** Agents held by other instances heard from in the last `maxAgeMs`; rows of instances gone from the table are deleted. */
    elsewhere(instanceId: string, maxAgeMs: number): string[] {
      orphans.run();
      return [...new Set(elsewhere.all(now() - maxAgeMs, instanceId).map((r) => r.agent_id))];
    },
  };
}
