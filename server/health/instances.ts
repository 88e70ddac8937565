/**
 * This instance among the others on its store (issue 15). Policies are files deployed to
 * every instance; a roll-out that reached some instances and not others leaves agents on
 * different policies depending on where they connect. So each instance records the policy
 * versions it has loaded (store/instances.ts) every few seconds and on every reload, and
 * compares the rows of the instances heard from lately: /healthz says "degraded" with the
 * difference spelled out, and /metrics counts instances per loaded version.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { describe } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { InstanceRow, InstanceStore, PolicyVersions } from '../store/instances.js';

export interface InstancesOptions {
  store: Pick<InstanceStore, 'record' | 'live' | 'remove'>;
  /** The policy versions this instance has loaded right now. */
  versions: () => PolicyVersions;
  log: Logger;
  now?: () => number;
  /** How often the row is rewritten and the others read (5 s); an instance silent for 3 of these is gone. */
  intervalMs?: number;
  instanceId?: string;
  host?: string;
}

export interface InstanceView {
  id: string;
  host: string;
  policies: PolicyVersions;
  seenAt: string;
}

export interface ClusterStatus {
  instance: { id: string; host: string; startedAt: string };
  /** The instances heard from lately (this one always included, as it is now), oldest first. */
  instances: InstanceView[];
  policyVersionsAgree: boolean;
  /** In words, which instances load what, when they differ. */
  policyMismatch: string | null;
}

/** "default 4, north 2": one instance's loaded versions, in a stable order. */
function versionKey(v: PolicyVersions): string {
  return [...v].sort((a, b) => a.name.localeCompare(b.name)).map((p) => `${p.name} ${p.version}`).join(', ') || 'no policies';
}

export function compareVersions(rows: Array<Pick<InstanceRow, 'host' | 'instanceId' | 'policyVersions'>>): string | null {
  const groups = new Map<string, string[]>();
  for (const r of rows) {
    const key = versionKey(r.policyVersions);
    groups.set(key, [...(groups.get(key) ?? []), `${r.host} (${r.instanceId.slice(0, 8)})`]);
  }
  if (groups.size <= 1) return null;
  return `instances load different policy versions: ${[...groups].map(([key, who]) => `${key} on ${who.join(', ')}`).join('; ')}; deploy the same policies folder to every instance`;
}

export function createInstances(opts: InstancesOptions) {
  const now = opts.now ?? Date.now;
  const intervalMs = opts.intervalMs ?? 5000;
  const id = opts.instanceId ?? randomUUID();
  const host = opts.host ?? hostname();
  const startedAt = now();
  let rows: InstanceRow[] = [];
  let failing = false;
  let timer: NodeJS.Timeout | undefined;

  /** Rewrites this instance's row and reads everyone's. A store failure is logged once per streak; /healthz's store check reports it. */
  function beat(): void {
    try {
      opts.store.record({ instanceId: id, host, policyVersions: opts.versions(), startedAt });
      rows = opts.store.live(intervalMs * 3);
      if (failing) opts.log.info('instance registry written again');
      failing = false;
    } catch (err) {
      if (!failing) opts.log.warn({ err: describe(err) }, 'cannot record this instance in the store; other instances may not see its policy versions');
      failing = true;
    }
  }

  return {
    id,
    beat,
    start(): void {
      beat();
      timer = setInterval(beat, intervalMs);
      timer.unref();
    },
    stop(): void {
      clearInterval(timer);
      try {
        opts.store.remove(id);
      } catch {
        // The store is closing or gone: the row ages out on its own.
      }
    },
    status(): ClusterStatus {
      // This instance as it is now, even between beats (a reload just happened).
      const self: InstanceRow = { instanceId: id, host, policyVersions: opts.versions(), startedAt, seenAt: now() };
      const all = [...rows.filter((r) => r.instanceId !== id), self].sort((a, b) => a.startedAt - b.startedAt || a.instanceId.localeCompare(b.instanceId));
      const mismatch = compareVersions(all);
      return {
        instance: { id, host, startedAt: new Date(startedAt).toISOString() },
        instances: all.map((r) => ({ id: r.instanceId, host: r.host, policies: r.policyVersions, seenAt: new Date(r.seenAt).toISOString() })),
        policyVersionsAgree: mismatch === null,
        policyMismatch: mismatch,
      };
    },
  };
}

export type Instances = ReturnType<typeof createInstances>;
