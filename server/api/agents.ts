/**
 * The fleet: every enrolled agent with online state, and whether it is silent during
 * consult hours (offline, or no heartbeat for 3 minutes, while its policy says it should
 * be watching): a stopped agent is the first sign of tampering.
 */
import type { Agent } from '../../shared/api-types.js';
import { AppError } from '../../shared/errors.js';
import { capabilitiesFromHealth } from '../../shared/protocol.js';
import { isWithinConsultHours } from '../../shared/hours.js';
import type { EffectivePolicy } from '../../shared/policy.js';
import type { Gateway } from '../gateway/index.js';
import { policyForAgent } from '../gateway/pinning.js';
import type { AgentRow, AgentStore, ChangeFeed } from '../store/types.js';
import { sendJson } from './http.js';
import type { Principal, Route } from './router.js';

const SILENT_AFTER_MS = 3 * 60_000;

/** The agent's approved-app readiness (agent/readiness.ts), from its flat status figures. */
function approvedAppOf(health: string | null): Agent['approvedApp'] {
  const h = health ? (JSON.parse(health) as Record<string, unknown>) : {};
  if (typeof h.approvedAppReady !== 'boolean') return null;
  return { ready: h.approvedAppReady, checkedAt: String(h.approvedAppCheckedAt ?? ''), problem: typeof h.approvedAppProblem === 'string' ? h.approvedAppProblem : null };
}

export function agentView(a: AgentRow, online: boolean, policy: EffectivePolicy, now: Date): Agent {
  const health = a.health ? (JSON.parse(a.health) as Record<string, unknown>) : null;
  const fresh = a.last_seen !== null && now.getTime() - a.last_seen < SILENT_AFTER_MS;
  const shouldWatch = isWithinConsultHours(policy, now);
  return {
    agentId: a.agent_id, hostname: a.hostname, platform: a.platform, site: a.site, group: a.grp, agentVersion: a.agent_version,
    policyVersion: a.policy_version, online,
    lastSeen: a.last_seen === null ? null : new Date(a.last_seen).toISOString(),
    monitoring: a.monitoring === null ? null : a.monitoring === 1,
    silent: shouldWatch && (!online || !fresh),
    revoked: a.revoked_at !== null || a.token_hash === null,
    health,
    /** What evidence the agent's machine can see (from its heartbeat); null: an agent that does not report it. */
    capabilities: capabilitiesFromHealth(health),
    approvedApp: approvedAppOf(a.health),
  };
}

type Audit = (p: Principal | null, action: string, detail?: Record<string, unknown>) => Promise<void>;

/** `changes`: tells every instance (PostgreSQL) that an agent's token went, so its socket closes wherever it is. */
export function agentRoutes(agents: AgentStore, gateway: Gateway, policyFor: (a: { site?: string | null; group?: string | null }) => EffectivePolicy, audit?: Audit, changes?: Pick<ChangeFeed, 'notify'>): Route[] {
  return [
    {
      method: 'GET', path: '/api/agents', roles: ['lead', 'admin'],
      handle: async ({ res }) => {
        const now = new Date();
        sendJson(res, 200, { items: (await agents.list()).map((a) => agentView(a, gateway.isOnline(a.agent_id), policyForAgent(policyFor, { site: a.site, group: a.grp, sitePinned: a.site_pinned === 1 }), now)) });
      },
    },
    {
      method: 'POST', path: '/api/agents/:id/revoke', roles: ['admin'],
      handle: async ({ res, params, principal }) => {
        if (!(await agents.get(params.id!))) throw new AppError('not_found', `no agent ${params.id}`);
        await agents.revokeToken(params.id!);
        await audit?.(principal, 'agent-revoke', { agentId: params.id });
        gateway.disconnect(params.id!, 'token revoked by an administrator');
        await changes?.notify('agents', params.id);
        sendJson(res, 200, { agentId: params.id, revoked: true });
      },
    },
    {
      // Deletes the identity (violations stay) so the id may enrol again with a secret.
      method: 'POST', path: '/api/agents/:id/forget', roles: ['admin'],
      handle: async ({ res, params, principal }) => {
        const id = params.id!;
        const row = await agents.get(id);
        if (!row) throw new AppError('not_found', `no agent ${id}; see GET /api/agents`);
        await agents.forget(id);
        await audit?.(principal, 'agent-forget', { agentId: id, hostname: row.hostname, wasRevoked: row.revoked_at !== null });
        gateway.disconnect(id, 'this agent was forgotten by an administrator; it may enrol again with the enrolment secret');
        await changes?.notify('agents', id);
        sendJson(res, 200, { agentId: id, forgotten: true });
      },
    },
  ];
}
