/**
 * What changed since a moment, for instances that share this store: each relays to its own
 * dashboards the violations another instance (or process) committed. Covering, so a poll
 * reads the index alone until it finds something it has not shown yet.
 *
 * The PostgreSQL twin: none is needed for the relay (PostgreSQL instances name changed
 * violations in their NOTIFY), but `migrate --to postgres://` compares schema versions, so
 * the PostgreSQL sequence has its twin in pg/migrations/004_violation_changes.ts.
 */
export const name = 'violation changes index';
export const sql = `
CREATE INDEX violations_updated ON violations(updated_at, agent_id, id);
`;
