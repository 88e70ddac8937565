/**
 * Read-only views of the policies folder for the dashboard: which policy each site and
 * group runs, its consult hours, closures and approved app, the pending bad edit (file and
 * line), and which agents run which version. Policies stay files (reviewed, versioned by
 * IT): there is no write route. Also the catalog's display names (`GET /api/apps`).
 */
import { relative } from 'node:path';
import type { AppNames, PolicyError, PolicyOverview } from '../../shared/api-types.js';
import { policyForAgent } from '../gateway/pinning.js';
import type { PolicyService } from '../policy/index.js';
import type { AgentStore } from '../store/types.js';
import { sendJson } from './http.js';
import type { Route } from './router.js';

/** `FILE:LINE: field: what` (shared/yaml-file.ts) split for the screen; other messages stay whole. */
export function splitPolicyError(message: string): PolicyError {
  const m = /^(.+?):(\d+): /.exec(message);
  return m ? { message, file: m[1]!, line: Number(m[2]) } : { message, file: null, line: null };
}

export async function policyOverview(policies: PolicyService, agents: AgentStore): Promise<PolicyOverview> {
  const set = policies.current();
  const error = policies.lastError();
  return {
    policies: set.policies.map(({ file, policy, effective }) => ({
      name: effective.name,
      version: effective.version,
      file: relative(set.dir, file) || file,
      description: policy.description ?? null,
      default: policy.default,
      assign: { sites: policy.assign.sites, groups: policy.assign.groups },
      timezone: effective.timezone,
      consultHours: effective.consultHours.map((w) => ({ days: w.days, from: w.from, to: w.to })),
      closures: effective.closures,
      mode: effective.mode,
      monitor: policy.monitor,
      approved: { name: effective.approved.name, url: effective.approved.url, apps: effective.approved.apps },
    })),
    error: error === null ? null : splitPolicyError(error),
    agents: (await agents.list()).map((a) => {
      const p = policyForAgent(policies.policyFor, { site: a.site, group: a.grp, sitePinned: a.site_pinned === 1 });
      return {
        agentId: a.agent_id, hostname: a.hostname, site: a.site, group: a.grp,
        policy: { name: p.name, version: p.version }, runningVersion: a.policy_version, current: a.policy_version === p.version,
      };
    }),
  };
}

export function appNames(policies: PolicyService): AppNames {
  return { items: policies.current().catalog.apps.map((a) => ({ id: a.id, name: a.name, vendor: a.vendor ?? null })).sort((x, y) => x.id.localeCompare(y.id)) };
}

/** The catalog's display name of an app id (the id itself for an app the catalog no longer has). */
export function appNameOf(policies: PolicyService): (id: string) => string {
  let catalog: unknown = null;
  let names = new Map<string, string>();
  return (id) => {
    const set = policies.current();
    if (set.catalog !== catalog) {
      catalog = set.catalog; // rebuilt only when a reload brought a new catalog
      names = new Map(set.catalog.apps.map((a) => [a.id, a.name]));
    }
    return names.get(id) ?? id;
  };
}

export function policyRoutes(policies: PolicyService, agents: AgentStore): Route[] {
  return [
    { method: 'GET', path: '/api/policies', roles: ['lead', 'admin'], handle: async ({ res }) => sendJson(res, 200, await policyOverview(policies, agents)) },
    { method: 'GET', path: '/api/apps', roles: ['lead', 'admin'], handle: ({ res }) => sendJson(res, 200, appNames(policies)) },
  ];
}
