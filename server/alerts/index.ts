/**
 * Alerts and scheduled reports, wired once for main.ts: the queue and rules in the store,
 * one mailer (SMTP settings from the server options) shared by email alerts and reports,
 * the alert engine and the report scheduler, and the `alerts` part of /healthz.
 */
import { hostname } from 'node:os';
import type { Registry } from 'prom-client';
import type { Logger } from '../../shared/log.js';
import type { EffectivePolicy } from '../../shared/policy.js';
import type { ServerConfig } from '../config.js';
import { createReportScheduler } from '../reports/index.js';
import type { Store } from '../store/types.js';
import { createAlertEngine } from './engine.js';
import type { PseudonymFor } from './pseudonym.js';
import { createMailer, createSender } from './send.js';

export interface AlertingDeps {
  store: Store;
  config: Pick<ServerConfig, 'smtpUrl' | 'mailFrom' | 'alerts' | 'reportCheckMs'>;
  policyFor: (a: { site?: string | null; group?: string | null }) => EffectivePolicy;
  isOnline: (agentId: string) => boolean;
  refreshOnline?: () => Promise<void>;
  pseudonymFor: PseudonymFor;
  registry: Registry;
  log: Logger;
}

export const defaultMailFrom = (): string => `consultguard@${hostname() || 'localhost'}`;

/** The catalog's display name of an app id (Zoom, WhatsApp...), or the id when unknown. */
export const appNamer = (policyFor: AlertingDeps['policyFor']) => (id: string): string => policyFor({}).catalog.apps.find((a) => a.id === id)?.name ?? id;

export function createAlerting(deps: AlertingDeps) {
  const { config } = deps;
  // Secrets stay out of the log: the SMTP URL (it may hold a password) and channel secrets are never logged.
  const log = deps.log.child({ module: 'alerts' }, { redact: { paths: ['smtpUrl', '*.smtpUrl', 'secret', '*.secret', 'channels[*].secret', '*.channels[*].secret'], censor: '[redacted]' } });
  const mailer = createMailer({ url: config.smtpUrl, from: config.mailFrom ?? defaultMailFrom() }, config.alerts.timeoutMs);
  const { alerts, reports } = deps.store;
  const appName = appNamer(deps.policyFor);
  const engine = createAlertEngine({
    store: deps.store, alerts, sender: createSender(mailer, config.alerts.timeoutMs), pseudonymFor: deps.pseudonymFor, appName,
    policyFor: deps.policyFor, isOnline: deps.isOnline, refreshOnline: deps.refreshOnline, log, registry: deps.registry, options: config.alerts,
  });
  const scheduler = createReportScheduler({
    violations: deps.store.violations, reports, mailer, pseudonymFor: deps.pseudonymFor, appName,
    policyFor: deps.policyFor, log: deps.log.child({ module: 'reports' }), checkMs: config.reportCheckMs,
  });
  return {
    alerts, reports, engine,
    start(): void {
      engine.start();
      scheduler.start();
    },
    async stop(): Promise<void> {
      engine.stop();
      await scheduler.stop();
      mailer.close();
    },
  };
}
