/** Enrolled agents on PostgreSQL: the SQLite engine's rules (agents.ts), one statement each. */
import type { Hello, Status } from '../../../shared/protocol.js';
import type { AgentRow, Enrolment } from '../agents.js';
import type { PgDb } from './db.js';

export function createPgAgentStore(db: PgDb, now: () => number = Date.now) {
  const host = (hello: Hello) => [hello.agentId, hello.host.hostname, hello.host.platform, hello.host.osVersion, hello.host.agentVersion, hello.site ?? null, hello.group ?? null];
  const changed = async (sql: string, args: unknown[]) => ((await db.query(sql, args)).rowCount ?? 0) > 0;
  return {
    get: async (agentId: string): Promise<AgentRow | undefined> => (await db.query<AgentRow>('SELECT * FROM agents WHERE agent_id = $1', [agentId])).rows[0],
    /** null when revoked, undefined when forgotten or never enrolled. */
    tokenHash: async (agentId: string): Promise<string | null | undefined> => (await db.query<{ token_hash: string | null }>('SELECT token_hash FROM agents WHERE agent_id = $1', [agentId])).rows[0]?.token_hash,
    /** Records a new agent. Throws (primary key) if the id exists: enrolment never overwrites. */
    async enrol(hello: Hello, e: Enrolment): Promise<void> {
      const [agentId, hostname, platform, osVersion, agentVersion, , grp] = host(hello);
      await db.query(
        `INSERT INTO agents (agent_id, hostname, platform, os_version, agent_version, site, grp, token_hash, enrolled_at, last_seen, site_pinned, enrolled_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11)`,
        [agentId, hostname, platform, osVersion, agentVersion, e.site, grp, e.tokenHash, now(), e.sitePinned ? 1 : 0, e.enrolledBy],
      );
    },
    /** A reconnect with the agent's own token: refreshes what it reports, never a pinned site. */
    async reconnect(hello: Hello): Promise<void> {
      await db.query(
        `UPDATE agents SET hostname = $2, platform = $3, os_version = $4, agent_version = $5,
           site = CASE WHEN site_pinned = 1 THEN site ELSE $6 END, grp = $7, last_seen = $8 WHERE agent_id = $1`,
        [...host(hello), now()],
      );
    },
    async saveStatus(agentId: string, s: Status): Promise<void> {
      await db.query('UPDATE agents SET last_seen = $2, monitoring = $3, policy_version = $4, health = $5 WHERE agent_id = $1',
        [agentId, now(), s.monitoring ? 1 : 0, s.policyVersion, s.health ? JSON.stringify(s.health) : null]);
    },
    touch: async (agentId: string): Promise<void> => void (await db.query('UPDATE agents SET last_seen = $1 WHERE agent_id = $2', [now(), agentId])),
    revokeToken: (agentId: string): Promise<boolean> => changed('UPDATE agents SET token_hash = NULL, revoked_at = COALESCE(revoked_at, $1) WHERE agent_id = $2', [now(), agentId]),
    forget: (agentId: string): Promise<boolean> => changed('DELETE FROM agents WHERE agent_id = $1', [agentId]),
    assign: (agentId: string, site: string | null, grp: string | null): Promise<boolean> =>
      changed('UPDATE agents SET site = $2, grp = $3, site_pinned = CASE WHEN $2::text IS NULL THEN 0 ELSE 1 END WHERE agent_id = $1', [agentId, site, grp]),
    enrolledBy: async (key: string): Promise<number> => (await db.query<{ n: number }>('SELECT count(*) AS n FROM agents WHERE enrolled_by = $1', [key])).rows[0]?.n ?? 0,
    list: async (): Promise<AgentRow[]> => (await db.query<AgentRow>('SELECT * FROM agents ORDER BY hostname, agent_id')).rows,
  };
}
