/**
 * The twin of SQLite migration 012 (server instances and the policy versions each has
 * loaded). Times come from the database's clock in pg/instances.ts, so instances on machines
 * whose clocks disagree still see one another.
 */
export const name = 'server instances';
export const sql = `
CREATE TABLE instances (
  instance_id     text PRIMARY KEY,
  host            text NOT NULL,
  policy_versions text NOT NULL,
  started_at      bigint NOT NULL,
  seen_at         bigint NOT NULL
);
CREATE INDEX instances_seen ON instances (seen_at);
`;
