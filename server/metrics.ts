/**
 * Prometheus metrics (prom-client), one registry per server instance. Labels carry codes
 * and outcomes only: no hostnames, users or apps, so /metrics reveals counts, not people.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export function createMetrics(sources: { agentsOnline: () => number; connections: () => number; policyError: () => boolean }) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'consultguard_server_' });
  new Gauge({ name: 'consultguard_agents_connected', help: 'Agents connected and authenticated now', registers: [registry], collect() { this.set(sources.agentsOnline()); } });
  new Gauge({ name: 'consultguard_agent_sockets', help: 'Open agent WebSocket connections (including unauthenticated)', registers: [registry], collect() { this.set(sources.connections()); } });
  new Gauge({ name: 'consultguard_policy_error', help: '1 while a bad policy edit is pending (last good policy in force)', registers: [registry], collect() { this.set(sources.policyError() ? 1 : 0); } });
  const events = new Counter({ name: 'consultguard_events_ingested_total', help: 'Agent events received, by outcome', labelNames: ['outcome'], registers: [registry] });
  const latency = new Histogram({
    name: 'consultguard_ingest_latency_seconds', help: 'Time from receiving an events frame to sending its ack (commit included)',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1], registers: [registry],
  });
  const rejected = new Counter({ name: 'consultguard_frames_rejected_total', help: 'Agent frames refused, by error code', labelNames: ['code'], registers: [registry] });
  const quotaRefused = new Counter({ name: 'consultguard_quota_refused_total', help: 'Agent frames refused (not stored, resent later) because the agent was over its hourly quota, by kind', labelNames: ['kind'], registers: [registry] });
  const eventTimes = new Counter({ name: 'consultguard_event_times_adjusted_total', help: 'Events dated outside the accepted window: clamped (future, to the time of receipt) or expired (older than retention, not stored)', labelNames: ['outcome'], registers: [registry] });
  // Zero from the start, so an alert on the rate sees the series before the first refusal.
  for (const kind of ['events', 'bytes']) quotaRefused.inc({ kind }, 0);
  for (const outcome of ['clamped', 'expired']) eventTimes.inc({ outcome }, 0);
  const policyErrors = new Counter({ name: 'consultguard_policy_errors_total', help: 'Policy reloads refused because a file was invalid', registers: [registry] });
  return {
    registry,
    ingested(stored: number, duplicates: number, seconds: number): void {
      if (stored) events.inc({ outcome: 'stored' }, stored);
      if (duplicates) events.inc({ outcome: 'duplicate' }, duplicates);
      latency.observe(seconds);
    },
    rejected: (code: string): void => rejected.inc({ code }),
    quotaRefused: (kind: 'events' | 'bytes'): void => quotaRefused.inc({ kind }),
    eventTimes(clamped: number, expired: number): void {
      if (clamped) eventTimes.inc({ outcome: 'clamped' }, clamped);
      if (expired) eventTimes.inc({ outcome: 'expired' }, expired);
    },
    policyError: (): void => policyErrors.inc(),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
