/**
 * The policy in force on this agent and its compiled catalog. Policies arrive already
 * parsed: from the server through the transport (shared/protocol.ts parses every frame)
 * or from the cache file (agent/state.ts parses it); nothing here parses again. Parts that
 * depend on the policy subscribe with `onChange` and hear about each new version once.
 */
import type { Logger } from '../shared/log.js';
import type { EffectivePolicy } from '../shared/policy.js';
import { compileCatalog, type CompiledCatalog } from './detect/index.js';

export type PolicySource = 'server' | 'cache';

export function createPolicyInForce(opts: { log: Logger; save: (p: EffectivePolicy) => void }) {
  let policy: EffectivePolicy | null = null;
  let compiled: CompiledCatalog | null = null;
  const listeners: Array<(p: EffectivePolicy) => void> = [];

  return {
    current: (): EffectivePolicy | null => policy,
    compiled: (): CompiledCatalog | null => compiled,
    onChange(listener: (p: EffectivePolicy) => void): void {
      listeners.push(listener);
    },
    /** Puts `next` in force unless it is the version already in force. */
    offer(next: EffectivePolicy, source: PolicySource): void {
      if (policy?.version === next.version) return;
      policy = next;
      compiled = compileCatalog(next.catalog, next.approved.apps);
      if (source === 'server') opts.save(next);
      opts.log.info({ policy: next.name, version: next.version, source, apps: next.monitor.length }, 'policy in force');
      for (const l of listeners) l(next);
    },
  };
}

export type PolicyInForce = ReturnType<typeof createPolicyInForce>;
