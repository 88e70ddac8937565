/**
 * The server's policies: loaded from the policies folder at start (a bad file there stops
 * the server with the error), reloaded when a file changes. A bad edit keeps the last
 * good set in force; its error shows in /healthz and the log until it is fixed.
 */
import { watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { describe } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { EffectivePolicy } from '../../shared/policy.js';
import { loadPolicies, policyFor, type PolicySet } from '../../shared/policy-load.js';

export function createPolicyService(dir: string, log: Logger) {
  let current: PolicySet = loadPolicies(dir);
  let lastError: string | null = null;
  let watchers: FSWatcher[] = [];
  let timer: NodeJS.Timeout | undefined;
  const listeners: Array<() => void> = [];
  const errorListeners: Array<() => void> = [];

  function reload(): boolean {
    try {
      const next = loadPolicies(dir);
      const changed = JSON.stringify(next.policies.map((p) => p.effective.version)) !== JSON.stringify(current.policies.map((p) => p.effective.version));
      current = next;
      if (lastError) log.info('policy error fixed; new policies in force');
      lastError = null;
      if (changed) {
        log.info({ policies: next.policies.map((p) => `${p.effective.name}@${p.effective.version}`) }, 'policies reloaded');
        for (const l of listeners) l();
      }
      return true;
    } catch (err) {
      const message = describe(err);
      if (message !== lastError) log.error({ code: 'bad_policy' }, `policy not reloaded, last good policy stays in force: ${message}`);
      for (const l of errorListeners) l();
      lastError = message;
      return false;
    }
  }

  return {
    current: (): PolicySet => current,
    policyFor: (agent: { site?: string | null; group?: string | null }): EffectivePolicy => policyFor(current, agent).effective,
    lastError: (): string | null => lastError,
    reload,
    onChange(fn: () => void): void {
      listeners.push(fn);
    },
    onError(fn: () => void): void {
      errorListeners.push(fn);
    },
    /** Watches the folder (and its catalog/) and reloads 300 ms after the last change. */
    watch(): void {
      const schedule = () => {
        clearTimeout(timer);
        timer = setTimeout(reload, 300);
      };
      for (const d of [dir, join(dir, 'catalog')]) {
        try {
          const w = watch(d, schedule);
          w.on('error', () => undefined);
          watchers.push(w);
        } catch {
          // catalog/ is optional
        }
      }
    },
    close(): void {
      clearTimeout(timer);
      for (const w of watchers) w.close();
      watchers = [];
    },
  };
}

export type PolicyService = ReturnType<typeof createPolicyService>;
