/**
 * Which policy an agent gets. A site set by a per-site secret is pinned, and must decide the
 * policy: otherwise an agent could escape its site's rules by claiming a group whose policy
 * is listed first (the policy set matches "site or group" in file order). The group stays
 * the agent's own claim (no secret carries a group), so for a pinned agent it only picks
 * the policy when no policy is assigned to its site.
 */
import type { EffectivePolicy } from '../../shared/policy.js';

export type PolicyFor = (agent: { site?: string | null; group?: string | null }) => EffectivePolicy;

export function policyForAgent(policyFor: PolicyFor, agent: { site?: string | null; group?: string | null; sitePinned: boolean }): EffectivePolicy {
  if (agent.sitePinned && agent.site) {
    const bySite = policyFor({ site: agent.site });
    const fallback = policyFor({});
    if (bySite.name !== fallback.name || bySite.version !== fallback.version) return bySite;
  }
  return policyFor({ site: agent.site, group: agent.group });
}
