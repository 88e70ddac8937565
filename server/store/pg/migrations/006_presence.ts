/**
 * The twin of SQLite migration 016: which instance holds which agent's socket. Read with
 * the instances table (a row counts while its instance's heartbeat is fresh).
 */
export const name = 'agent presence';
export const sql = `
CREATE TABLE presence (
  instance_id text NOT NULL,
  agent_id    text NOT NULL,
  PRIMARY KEY (instance_id, agent_id)
);
`;
