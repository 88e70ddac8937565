/**
 * Which instance holds which agent's socket (issue 15): an agent is online, on any instance,
 * while a live instance (its row in `instances` fresh) holds it. One row per (instance,
 * agent), so an agent briefly connected to two instances during a failover stays online
 * when either link closes. Rows carry no times: the instance's own heartbeat says whether
 * they still count, so a connected agent costs no writes beyond its connect and disconnect.
 *
 * The PostgreSQL twin is pg/migrations/006_presence.ts (the same table, text columns).
 */
export const name = 'agent presence';
export const sql = `
CREATE TABLE presence (
  instance_id TEXT NOT NULL,
  agent_id    TEXT NOT NULL,
  PRIMARY KEY (instance_id, agent_id)
) STRICT, WITHOUT ROWID;
`;
