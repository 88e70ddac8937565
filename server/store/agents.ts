/** Enrolled agents: identity, hashed token, what they last reported. */
import type { Hello, Status } from '../../shared/protocol.js';
import type { Db } from './db.js';

export interface AgentRow {
  agent_id: string;
  hostname: string;
  platform: string;
  os_version: string | null;
  agent_version: string | null;
  site: string | null;
  grp: string | null;
  token_hash: string | null;
  enrolled_at: number;
  last_seen: number | null;
  policy_version: string | null;
  monitoring: number | null;
  health: string | null;
}

export function createAgentStore(db: Db, now: () => number = Date.now) {
  const byId = db.prepare<[string], AgentRow>('SELECT * FROM agents WHERE agent_id = ?');
  const upsert = db.prepare(
    `INSERT INTO agents (agent_id, hostname, platform, os_version, agent_version, site, grp, token_hash, enrolled_at, last_seen)
     VALUES (@agentId, @hostname, @platform, @osVersion, @agentVersion, @site, @grp, @tokenHash, @now, @now)
     ON CONFLICT(agent_id) DO UPDATE SET hostname = excluded.hostname, platform = excluded.platform,
       os_version = excluded.os_version, agent_version = excluded.agent_version, site = excluded.site, grp = excluded.grp,
       token_hash = COALESCE(excluded.token_hash, agents.token_hash), last_seen = excluded.last_seen`,
  );
  const status = db.prepare(
    'UPDATE agents SET last_seen = @now, monitoring = @monitoring, policy_version = @policyVersion, health = @health WHERE agent_id = @agentId',
  );
  const touch = db.prepare('UPDATE agents SET last_seen = ? WHERE agent_id = ?');
  const revoke = db.prepare('UPDATE agents SET token_hash = NULL WHERE agent_id = ?');

  return {
    get: (agentId: string): AgentRow | undefined => byId.get(agentId),
    /** Records an agent's hello; `tokenHash` is set when a new token was issued. */
    saveHello(hello: Hello, tokenHash: string | null): void {
      upsert.run({
        agentId: hello.agentId, hostname: hello.host.hostname, platform: hello.host.platform,
        osVersion: hello.host.osVersion, agentVersion: hello.host.agentVersion,
        site: hello.site ?? null, grp: hello.group ?? null, tokenHash, now: now(),
      });
    },
    saveStatus(agentId: string, s: Status): void {
      status.run({ agentId, now: now(), monitoring: s.monitoring ? 1 : 0, policyVersion: s.policyVersion, health: s.health ? JSON.stringify(s.health) : null });
    },
    touch: (agentId: string): void => void touch.run(now(), agentId),
    revokeToken: (agentId: string): boolean => revoke.run(agentId).changes > 0,
    list: (): AgentRow[] => db.prepare<[], AgentRow>('SELECT * FROM agents ORDER BY hostname, agent_id').all(),
  };
}

export type AgentStore = ReturnType<typeof createAgentStore>;
