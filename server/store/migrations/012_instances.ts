/**
 * The server instances on this store and the policy versions each has loaded (issue 15):
 * every instance rewrites its own row every few seconds and on each policy reload, and
 * /healthz and /metrics compare the rows seen lately, so instances that load different
 * policy versions say so. Rows of instances gone quiet are pruned.
 *
 * The PostgreSQL twin (the same four statements of store/instances.ts run there with $n
 * parameters; ON CONFLICT ... DO UPDATE is the same syntax):
 *
 *   CREATE TABLE instances (
 *     instance_id     text PRIMARY KEY,
 *     host            text NOT NULL,
 *     policy_versions jsonb NOT NULL,
 *     started_at      bigint NOT NULL,
 *     seen_at         bigint NOT NULL
 *   );
 *   CREATE INDEX instances_seen ON instances (seen_at);
 *
 * On PostgreSQL the instances are separate machines: take seen_at (and the cut-off of
 * `live`) from the database's clock, (extract(epoch FROM clock_timestamp()) * 1000)::bigint,
 * so a machine whose clock is off neither vanishes from nor lingers in the list.
 */
export const name = 'server instances';
export const sql = `
CREATE TABLE instances (
  instance_id     TEXT PRIMARY KEY,
  host            TEXT NOT NULL,
  policy_versions TEXT NOT NULL,
  started_at      INTEGER NOT NULL,
  seen_at         INTEGER NOT NULL
) STRICT;
CREATE INDEX instances_seen ON instances(seen_at);
`;
