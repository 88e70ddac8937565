/**
 * What /healthz reports: the store (a real query, see store.ts), the policies in force
 * and their watcher, the SIEM forwarder's targets, agents online, and any further part
 * registered as a component (e.g. an alert queue), and this instance among the others on
 * its store with the policy versions each has loaded (instances.ts). 503 with "store_unavailable" when the
 * store is not usable (the server cannot store events); "degraded" (still 200) when
 * something else fails: the server still stores every event, but someone should look.
 */
import type { ComponentHealth, Health } from '../../shared/api-types.js';
import type { Forwarder } from '../forward/siem.js';
import type { PolicyService } from '../policy/index.js';
import type { Instances } from './instances.js';
import type { StoreProbe } from './store.js';

export interface HealthDeps {
  store: StoreProbe;
  policies: Pick<PolicyService, 'status'>;
  forwarder: Pick<Forwarder, 'status'>;
  agentsOnline: () => number;
  instances: Pick<Instances, 'status'>;
}

export function createHealth(deps: HealthDeps) {
  const components = new Map<string, () => ComponentHealth & Record<string, unknown>>();
  return {
    /** Adds a part to the report (name: a stable key such as "alerts"). */
    register(name: string, status: () => ComponentHealth & Record<string, unknown>): void {
      components.set(name, status);
    },
    report(): { httpStatus: 200 | 503; body: Health } {
      const storeOk = deps.store.check();
      const store = deps.store.status();
      const policy = deps.policies.status();
      const forward = deps.forwarder.status();
      const extra = Object.fromEntries([...components].map(([name, fn]) => [name, fn()]));
      const cluster = deps.instances.status();
      // Instances on different policy versions still store every event, but agents get different policies depending on where they land.
      const failing = [policy.watch, ...Object.values(forward), ...Object.values(extra)].some((c) => c.state === 'failing') || policy.error !== null || !cluster.policyVersionsAgree;
      const body: Health = {
        ok: storeOk,
        status: !storeOk ? 'down' : failing ? 'degraded' : 'ok',
        store,
        policy,
        forward,
        components: extra,
        agentsOnline: deps.agentsOnline(),
        instance: cluster.instance,
        cluster: { instances: cluster.instances, policyVersionsAgree: cluster.policyVersionsAgree, policyMismatch: cluster.policyMismatch },
        ...(policy.error ? { policyError: policy.error } : {}),
        ...(!storeOk ? { error: { code: 'store_unavailable', message: `${store.problem ?? 'the store cannot be read'}; details in the server log` } } : {}),
      };
      return { httpStatus: storeOk ? 200 : 503, body };
    },
  };
}

export type HealthService = ReturnType<typeof createHealth>;
