/**
 * Enrolled agents: identity, hashed token, what they last reported. An id is enrolled once
 * (`enrol`, a plain INSERT: never over an existing row); after that only its own token
 * reconnects it (`reconnect`). A revoke keeps the row with a `revoked_at` marker so the id
 * cannot come back with the enrolment secret; `forget` (admin) deletes the identity so it
 * may enrol again. Violations and events are kept under the agent id either way.
 */
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
  revoked_at: number | null;
  /** 1 when `site` came from a per-site secret: the agent's claims never change it. */
  site_pinned: number;
  enrolled_by: string | null;
}

export interface Enrolment {
  tokenHash: string;
  /** The site to record: the secret's site when it has one, else the agent's claim. */
  site: string | null;
  sitePinned: boolean;
  /** Which secret enrolled it (for the per-secret cap). */
  enrolledBy: string;
}

export function createAgentStore(db: Db, now: () => number = Date.now) {
  const byId = db.prepare<[string], AgentRow>('SELECT * FROM agents WHERE agent_id = ?');
  const tokenOf = db.prepare<[string], { token_hash: string | null }>('SELECT token_hash FROM agents WHERE agent_id = ?');
  const insert = db.prepare(
    `INSERT INTO agents (agent_id, hostname, platform, os_version, agent_version, site, grp, token_hash, enrolled_at, last_seen, site_pinned, enrolled_by)
     VALUES (@agentId, @hostname, @platform, @osVersion, @agentVersion, @site, @grp, @tokenHash, @now, @now, @sitePinned, @enrolledBy)`,
  );
  // A pinned site stays; an unpinned one follows the agent's configuration (--site).
  const update = db.prepare(
    `UPDATE agents SET hostname = @hostname, platform = @platform, os_version = @osVersion, agent_version = @agentVersion,
       site = CASE WHEN site_pinned = 1 THEN site ELSE @site END, grp = @grp, last_seen = @now
     WHERE agent_id = @agentId`,
  );
  const status = db.prepare(
    'UPDATE agents SET last_seen = @now, monitoring = @monitoring, policy_version = @policyVersion, health = @health WHERE agent_id = @agentId',
  );
  const touch = db.prepare('UPDATE agents SET last_seen = ? WHERE agent_id = ?');
  const revoke = db.prepare('UPDATE agents SET token_hash = NULL, revoked_at = COALESCE(revoked_at, ?) WHERE agent_id = ?');
  const forget = db.prepare('DELETE FROM agents WHERE agent_id = ?');
  // An administrator's move: the site is pinned (the agent's --site no longer changes it).
  const assign = db.prepare('UPDATE agents SET site = @site, grp = @grp, site_pinned = CASE WHEN @site IS NULL THEN 0 ELSE 1 END WHERE agent_id = @agentId');
  const countBy = db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM agents WHERE enrolled_by = ?');

  const host = (hello: Hello) => ({
    agentId: hello.agentId, hostname: hello.host.hostname, platform: hello.host.platform,
    osVersion: hello.host.osVersion, agentVersion: hello.host.agentVersion, site: hello.site ?? null, grp: hello.group ?? null,
  });

  return {
    get: (agentId: string): AgentRow | undefined => byId.get(agentId),
    /**
     * The agent's current token hash: null when revoked, undefined when forgotten or never
     * enrolled. A primary-key lookup, cheap enough for every frame (README "Security").
     */
    tokenHash: (agentId: string): string | null | undefined => tokenOf.get(agentId)?.token_hash,
    /** Records a new agent. Throws (primary key) if the id exists: enrolment never overwrites. */
    enrol(hello: Hello, e: Enrolment): void {
      insert.run({ ...host(hello), site: e.site, tokenHash: e.tokenHash, sitePinned: e.sitePinned ? 1 : 0, enrolledBy: e.enrolledBy, now: now() });
    },
    /** A reconnect with the agent's own token: refreshes what it reports, never a pinned site. */
    reconnect(hello: Hello): void {
      update.run({ ...host(hello), now: now() });
    },
    saveStatus(agentId: string, s: Status): void {
      status.run({ agentId, now: now(), monitoring: s.monitoring ? 1 : 0, policyVersion: s.policyVersion, health: s.health ? JSON.stringify(s.health) : null });
    },
    touch: (agentId: string): void => void touch.run(now(), agentId),
    /** Revokes the token and marks the id revoked (it cannot re-enrol until forgotten). */
    revokeToken: (agentId: string): boolean => revoke.run(now(), agentId).changes > 0,
    /** Deletes the identity (admin `agent forget`): the id may enrol again with a secret. */
    forget: (agentId: string): boolean => forget.run(agentId).changes > 0,
    /** Moves an agent to a site (pinned) and group (admin `POST /api/agents/:id/assign`); false if unknown. */
    assign: (agentId: string, site: string | null, grp: string | null): boolean => assign.run({ agentId, site, grp }).changes > 0,
    /** How many agents a secret has enrolled (revoked ones count until forgotten). */
    enrolledBy: (key: string): number => countBy.get(key)?.n ?? 0,
    list: (): AgentRow[] => db.prepare<[], AgentRow>('SELECT * FROM agents ORDER BY hostname, agent_id').all(),
  };
}

export type AgentStore = ReturnType<typeof createAgentStore>;
