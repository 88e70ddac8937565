/**
 * The twin of SQLite migration 014. PostgreSQL instances need no relay (their notifications
 * name the changed violations), but the schemas stay equal so `migrate --to` can compare
 * versions, and the index also serves "what changed since" reads.
 */
export const name = 'violation changes index';
export const sql = `
CREATE INDEX violations_updated ON violations (updated_at, agent_id, id);
`;
