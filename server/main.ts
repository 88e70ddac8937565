/**
 * The server, wired: store, policies, agent gateway, HTTP API. This file is the
 * architecture diagram of the server side.
 */
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import type { Logger } from '../shared/log.js';
import { builtinPoliciesDir } from '../shared/paths.js';
import { createApi } from './api/index.js';
import type { ServerConfig } from './config.js';
import { createGateway } from './gateway/index.js';
import { createPolicyService } from './policy/index.js';
import { resolveEnrollSecrets } from './secrets.js';
import { createStore } from './store/index.js';
import { isErased } from './store/people.js';
import { createMetrics } from './metrics.js';
import { createLiveFeed } from './api/live.js';
import { createForwarder } from './forward/siem.js';
import { startRetention } from './store/retention.js';
import { startRollupRebuild } from './store/worker/start-rebuild.js';
import { AppError } from '../shared/errors.js';
import { createHealth } from './health/index.js';
import { registerHealthMetrics } from './health/metrics.js';
import { createStoreProbe } from './health/store.js';
import { createAlerting } from './alerts/index.js';

export interface RunningServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startServer(config: ServerConfig, log: Logger): Promise<RunningServer> {
  const policies = createPolicyService(resolve(config.policiesDir ?? builtinPoliciesDir()), log.child({ module: 'policy' }));
  const store = createStore(resolve(config.dataDir), Date.now, { showNames: config.showNames, file: config.database && resolve(config.database.file) });
  const secrets = resolveEnrollSecrets(config.enrollSecret, resolve(config.dataDir));

  const live = createLiveFeed();
  /** Sends what a batch opened or changed to dashboards, right after its ack. */
  const publish = (agentId: string, ids: string[]) => live.publish(ids.map((id) => store.violations.get(agentId, id)).filter((v) => v !== null));
  // The SIEM sees clinicians as the dashboard does: pseudonyms unless the clinic shows names.
  const forwarder = createForwarder({ file: config.forwardFile, syslog: config.forwardSyslog, people: store.people }, log.child({ module: 'forward' }));
  // Roll-ups in the clinic's zone: kept as they are, started on an empty store, or counted
  // again in a worker (a store from before migration 12, or a changed zone).
  const rollupPlan = store.rollups.prepare(policies.policyFor({}).timezone);
  const rebuild = rollupPlan === 'ready' ? null : startRollupRebuild(store.db.name, policies.policyFor({}).timezone, rollupPlan === 'resume', log.child({ module: 'rollups' }));
  const stopRetention = startRetention(store.db, { days: config.retentionDays, auditDays: config.auditRetentionDays }, log.child({ module: 'retention' }));
  let gatewayRef: { onlineCount(): number; connectionCount(): number } | null = null;
  const metrics = createMetrics({
    agentsOnline: () => gatewayRef?.onlineCount() ?? 0,
    connections: () => gatewayRef?.connectionCount() ?? 0,
    policyError: () => policies.lastError() !== null,
  });
  // Alerts and scheduled reports; `gateway` is only asked once alerting.start() runs.
  // Alerts and mailed reports name clinicians by the same pseudonym as the dashboard, and
  // never by name, even where the clinic shows names on the dashboard (CONTRACTS section 4).
  const alerting = createAlerting({ store, config, policyFor: policies.policyFor, isOnline: (id) => gateway.isOnline(id), pseudonymFor: (user) => (user === null ? null : isErased(user) ? 'erased' : store.people.pseudonym(user)), registry: metrics.registry, log });
  const gateway = createGateway({
    store,
    secrets: { configured: secrets, lookup: (s) => store.secrets.find(s), enrollLimit: config.enrollLimit },
    quota: { eventsPerWindow: config.quotaEventsPerHour, bytesPerWindow: config.quotaBytesPerHour, windowMs: config.quotaWindowMs },
    // Past times are good back to the retention window: an agent offline for days delivers.
    clock: { futureMs: config.clockSkewSec * 1000, pastMs: config.retentionDays * 86_400_000 },
    policyFor: policies.policyFor,
    log: log.child({ module: 'gateway' }),
    helloTimeoutMs: config.helloTimeoutMs,
    pingIntervalMs: config.pingIntervalMs,
    sweepIntervalMs: config.revocationSweepMs,
    rate: config.rate,
    metrics,
    onNudges: publish,
    // Push what this batch opened or changed to dashboards, right after the ack.
    onIngest: (agent, result) => {
      publish(agent.agentId, result.touched);
      if (forwarder.enabled) forwarder.forward(result.events.map((event) => ({ ...agent, event })));
      alerting.engine.onIngest(agent, result.events);
    },
  });
  gatewayRef = gateway;

  const healthDeps = { store: createStoreProbe(store.db, log.child({ module: 'health' })), policies, forwarder, agentsOnline: () => gateway.onlineCount() };
  const health = createHealth(healthDeps);
  health.register('alerts', () => alerting.engine.status());
  registerHealthMetrics(metrics.registry, healthDeps);
  policies.onChange(() => gateway.pushPolicies(policies.policyFor));
  policies.onError(() => {
    metrics.policyError();
    // Listeners run just before the service records the new error: read it a moment later.
    queueMicrotask(() => {
      const error = policies.lastError();
      if (error) alerting.engine.onPolicyError(error);
    });
  });
  policies.watch();

  const tls = loadTls(config);
  const api = createApi({ store, gateway, policies, metrics, live, health, log, secure: tls !== null, alerts: alerting });
  const handler = (req: Parameters<typeof api>[0], res: Parameters<typeof api>[1]) => void api(req, res);
  const server: Server = tls ? createHttpsServer(tls, handler) : createHttpServer(handler);
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  gateway.attach(server);

  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(config.port, config.host, () => ok());
  });
  const port = (server.address() as AddressInfo).port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `${tls ? 'https' : 'http'}://${host}:${port}`;
  log.info({ url, data: resolve(config.dataDir), showNames: config.showNames, policies: policies.current().policies.map((p) => p.effective.name) }, 'server listening');
  alerting.start();

  return {
    url,
    port,
    async close() {
      policies.close();
      stopRetention();
      await rebuild?.stop();
      await alerting.stop();
      live.close();
      forwarder.close();
      await gateway.close();
      const closed = new Promise<void>((ok) => server.close(() => ok()));
      server.closeAllConnections(); // keep-alive and stream connections would hold close() open
      await closed;
      store.close();
    },
  };
}

function loadTls(config: ServerConfig): { cert: Buffer; key: Buffer } | null {
  if (!config.tlsCert && !config.tlsKey) return null;
  if (!config.tlsCert || !config.tlsKey) throw new AppError('bad_option', `--tls-cert and --tls-key go together; got only ${config.tlsCert ? '--tls-cert' : '--tls-key'}`);
  const read = (file: string, flag: string) => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new AppError('bad_option', `${flag}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  };
  return { cert: read(config.tlsCert, '--tls-cert'), key: read(config.tlsKey, '--tls-key') };
}
