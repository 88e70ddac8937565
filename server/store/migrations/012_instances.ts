/**
 * The server instances on this store and the policy versions each has loaded (issue 15):
 * every instance rewrites its own row every few seconds and on each policy reload, and
 * /healthz and /metrics compare the rows seen lately, so instances that load different
 * policy versions say so. Rows of instances gone quiet are pruned.
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
