/**
 * The health of the server's parts as Prometheus series, registered on the server's one
 * registry (server/metrics.ts). Read at scrape time from the same state /healthz shows,
 * so the two never disagree. Labels are target kinds only (file, syslog), never addresses.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { StreakStatus } from './streak.js';
import type { HealthDeps } from './index.js';

/** A counter that follows a monotonic total read at scrape time. */
function followCounter(registry: Registry, name: string, help: string, read: () => Array<[Record<string, string>, number]>): void {
  const seen = new Map<string, number>();
  new Counter({
    name, help, labelNames: ['target'], registers: [registry],
    collect() {
      for (const [labels, total] of read()) {
        const key = JSON.stringify(labels);
        const delta = total - (seen.get(key) ?? 0);
        if (delta > 0) this.inc(labels, delta);
        else if (!seen.has(key)) this.inc(labels, 0);
        seen.set(key, total);
      }
    },
  });
}

export function registerHealthMetrics(registry: Registry, deps: HealthDeps): void {
  const up = (s: StreakStatus) => (s.state === 'ok' ? 1 : 0);
  const targets = () => Object.entries(deps.forwarder.status()) as Array<[string, StreakStatus & { dropped?: number }]>;

  new Gauge({ name: 'consultguard_store_up', help: '1 when the store answers a real query (SELECT 1, schema version, table reads)', registers: [registry], collect() { this.set(deps.store.check() ? 1 : 0); } });
  followCounter(registry, 'consultguard_store_check_failures_total', 'Store health checks that failed', () => [[{ target: 'sqlite' }, deps.store.status().failures]]);

  new Gauge({
    name: 'consultguard_policy_loaded', help: '1 for each policy version this instance has loaded', labelNames: ['policy', 'version'], registers: [registry],
    collect() {
      this.reset();
      for (const p of deps.policies.status().policies) this.set({ policy: p.name, version: p.version }, 1);
    },
  });
  new Gauge({ name: 'consultguard_cluster_instances', help: 'Server instances on this store heard from in the last 15 s (this one included)', registers: [registry], collect() { this.set(deps.instances.status().instances.length); } });
  new Gauge({
    name: 'consultguard_cluster_policy_loaded', help: 'Instances on this store that have this policy version loaded', labelNames: ['policy', 'version'], registers: [registry],
    collect() {
      this.reset();
      for (const i of deps.instances.status().instances) for (const p of i.policies) this.inc({ policy: p.name, version: p.version });
    },
  });
  new Gauge({ name: 'consultguard_cluster_policy_versions_differ', help: '1 while instances on this store load different policy versions (see /healthz cluster.policyMismatch)', registers: [registry], collect() { this.set(deps.instances.status().policyVersionsAgree ? 0 : 1); } });

  new Gauge({ name: 'consultguard_policy_watch_up', help: '1 while the policies folder is watched for changes', registers: [registry], collect() { this.set(up(deps.policies.status().watch)); } });
  followCounter(registry, 'consultguard_policy_watch_failures_total', 'Failures of the policies folder watch (folder gone or replaced, watch error)', () => [[{ target: 'policies' }, deps.policies.status().watch.failures]]);

  new Gauge({
    name: 'consultguard_forward_up', help: '1 while a SIEM target accepts events, by target kind', labelNames: ['target'], registers: [registry],
    collect() {
      this.reset();
      for (const [target, s] of targets()) this.set({ target }, up(s));
    },
  });
  followCounter(registry, 'consultguard_forward_failures_total', 'SIEM forwarding failures (write errors, refused or lost connections), by target kind', () => targets().map(([target, s]) => [{ target }, s.failures]));
  followCounter(registry, 'consultguard_forward_dropped_total', 'SIEM copies dropped while a target was down too long (the events themselves are stored)', () => targets().map(([target, s]) => [{ target }, s.dropped ?? 0]));
}
