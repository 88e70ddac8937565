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
import { createApi, offThreadFile } from './api/index.js';
import { createOffThreadReads } from './api/reads-off-thread.js';
import { createClientAddress } from './api/client-address.js';
import type { ServerConfig } from './config.js';
import { createGateway } from './gateway/index.js';
import { createPolicyService } from './policy/index.js';
import { resolveEnrollSecrets } from './secrets.js';
import { databaseUrl, openStore } from './store/open.js';
import { isErased } from './store/people.js';
import { createMetrics } from './metrics.js';
import { createLiveFeed } from './api/live.js';
import { createLiveRelay } from './api/live-relay.js';
import { createForwarder } from './forward/siem.js';
import { startRetention } from './store/retention-job.js';
import { startRollupRebuild } from './store/worker/start-rebuild.js';
import type { SqliteStore } from './store/sqlite.js';
import type { PgStore } from './store/pg/index.js';
import { AppError } from '../shared/errors.js';
import { createHealth } from './health/index.js';
import { registerHealthMetrics } from './health/metrics.js';
import { createStoreProbe } from './health/store.js';
import { createInstances } from './health/instances.js';
import { createPresence } from './gateway/presence.js';
import { createAlerting } from './alerts/index.js';
import { oidcSettings } from './oidc/config.js';
import { createOidcClient } from './oidc/client.js';

export interface RunningServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startServer(config: ServerConfig, log: Logger): Promise<RunningServer> {
  // Checked before anything opens: a half-set single sign-on is a bad option, not a surprise at sign-in.
  const sso = oidcSettings(config);
  const policies = createPolicyService(resolve(config.policiesDir ?? builtinPoliciesDir()), log.child({ module: 'policy' }));
  const store = await openStore({
    url: databaseUrl(config.database), dataDir: resolve(config.dataDir), showNames: config.showNames,
    // How soon a revoke or rule change made elsewhere (the CLI, another instance) is seen.
    changePollMs: config.revocationSweepMs, log: log.child({ module: 'store' }),
  });
  const secrets = resolveEnrollSecrets(config.enrollSecret, resolve(config.dataDir));

  const live = createLiveFeed();
  // Other instances on one SQLite file (and admin commands) commit too, and SQLite's change
  // feed can only say "something changed": the relay then reads what changed. PostgreSQL's
  // notifications name the violations, so it needs none.
  const changedSince = store.violations.changedSince?.bind(store.violations);
  const relay = changedSince ? createLiveRelay({
    live,
    changedSince: async (after, limit) => changedSince(after, limit),
    get: async (agentId, id) => store.violations.get(agentId, id),
    log: log.child({ module: 'live-relay' }),
  }) : null;
  // X-Forwarded-For is believed only from the proxies named by --trust-proxy.
  const clientAddress = createClientAddress(config.trustProxy ?? []);
  // A logout, password reset, disable or token revoke anywhere (another instance, the CLI) ends that credential's streams here too.
  for (const topic of ['users', 'tokens'] as const) store.changes.subscribe(topic, () => void live.revalidate());
  /** Sends what a batch opened or changed to this instance's dashboards. */
  const publish = async (agentId: string, ids: string[]) => {
    const found = await Promise.all(ids.map((id) => store.violations.get(agentId, id)));
    const shown = found.filter((v) => v !== null);
    if (relay) relay.publish(shown);
    else live.publish(shown);
  };
  // Every instance's dashboards hear of every instance's batches: PostgreSQL's ingest sends a
  // NOTIFY naming them inside its own transaction (so a commit is never left unannounced, even
  // by a server killed right after it); SQLite's feed says only "another connection committed"
  // and the relay reads what. The payload names violations, never their content.
  store.changes.subscribe('violations', (payload) => {
    if (!payload) return void relay?.catchUp();
    const { agentId, ids } = JSON.parse(payload) as { agentId: string; ids: string[] };
    publish(agentId, ids).catch((err: unknown) => log.warn({ err }, 'could not push violations to the live feed'));
  });
  /** This instance's own batches: to its dashboards right after the ack. */
  const announce = (agentId: string, ids: string[]) => {
    publish(agentId, ids).catch((err: unknown) => log.warn({ err }, 'could not push violations to the live feed'));
  };
  // The SIEM sees clinicians as the dashboard does: pseudonyms unless the clinic shows names.
  const forwarder = createForwarder({ file: config.forwardFile, syslog: config.forwardSyslog, people: store.people }, log.child({ module: 'forward' }));
  // Roll-ups (SQLite) in the clinic's zone: kept as they are, started on an empty store, or
  // counted again in a worker (a store from before migration 15, or a changed zone).
  const rollups = store.engine === 'sqlite' ? (store as SqliteStore).rollups : null;
  const rollupPlan = rollups?.prepare(policies.policyFor({}).timezone) ?? 'ready';
  const rebuild = rollupPlan === 'ready' ? null : startRollupRebuild((store as SqliteStore).db.name, policies.policyFor({}).timezone, rollupPlan === 'resume', log.child({ module: 'rollups' }));
  // PostgreSQL: the same plan, a rebuild in this process (its queries do not hold the loop), once per cluster.
  // The engine's modules load only for a PostgreSQL URL.
  const pgRollups = store.engine === 'postgres' ? (await import('./store/pg/rollups.js')).startPgRollups((store as PgStore).rollups, store.jobs, policies.policyFor({}).timezone, log.child({ module: 'rollups' })) : null;
  const stopRetention = startRetention(store, { days: config.retentionDays, auditDays: config.auditRetentionDays }, log.child({ module: 'retention' }), config.retentionSchedule);
  let gatewayRef: { onlineCount(): number; connectionCount(): number } | null = null;
  const metrics = createMetrics({
    agentsOnline: () => gatewayRef?.onlineCount() ?? 0,
    connections: () => gatewayRef?.connectionCount() ?? 0,
    policyError: () => policies.lastError() !== null,
  });
  // This instance among the others on the store, with the policy versions each has loaded.
  const instances = createInstances({ store: store.instances, versions: () => policies.current().policies.map((p) => ({ name: p.effective.name, version: p.effective.version })), intervalMs: config.instanceBeatMs, log: log.child({ module: 'instances' }) });
  // Which agents each instance holds, so "online" is the same answer on every instance.
  const presence = createPresence({ store: store.presence, instanceId: instances.id, local: () => gateway.onlineIds(), intervalMs: config.instanceBeatMs, log: log.child({ module: 'presence' }) });
  // Alerts and scheduled reports; `gateway` is only asked once alerting.start() runs.
  // Alerts and mailed reports name clinicians by the same pseudonym as the dashboard, and
  // never by name, even where the clinic shows names on the dashboard (CONTRACTS section 4).
  const alerting = createAlerting({ store, config, policyFor: policies.policyFor, isOnline: (id) => gateway.isOnline(id), refreshOnline: presence.refresh, pseudonymFor: (user) => (user === null ? null : isErased(user) ? 'erased' : store.people.pseudonym(user)), registry: metrics.registry, log });
  const gateway = createGateway({
    store,
    secrets: { configured: secrets, lookup: (s) => store.secrets.find(s), enrollLimit: config.enrollLimit },
    quota: { eventsPerWindow: config.quotaEventsPerHour, bytesPerWindow: config.quotaBytesPerHour, windowMs: config.quotaWindowMs },
    // Past times are good back to the retention window: an agent offline for days delivers.
    clock: { futureMs: config.clockSkewSec * 1000, pastMs: config.retentionDays * 86_400_000 },
    policyFor: policies.policyFor,
    log: log.child({ module: 'gateway' }),
    clientAddress,
    helloTimeoutMs: config.helloTimeoutMs,
    pingIntervalMs: config.pingIntervalMs,
    sweepIntervalMs: config.revocationSweepMs,
    rate: config.rate,
    metrics,
    onNudges: announce,
    presence,
    // Push what this batch opened or changed to dashboards, right after the ack.
    onIngest: (agent, result) => {
      announce(agent.agentId, result.touched);
      if (forwarder.enabled) forwarder.forward(result.events.map((event) => ({ ...agent, event })));
      void alerting.engine.onIngest(agent, result.events); // never rejects: it logs its own failures
    },
  });
  gatewayRef = gateway;

  const healthDeps = { store: createStoreProbe(store, log.child({ module: 'health' })), policies, forwarder, agentsOnline: () => gateway.onlineCount(), instances };
  const health = createHealth(healthDeps);
  health.register('alerts', () => alerting.engine.status());
  registerHealthMetrics(metrics.registry, healthDeps);
  policies.onChange(() => gateway.pushPolicies(policies.policyFor));
  policies.onChange(() => void instances.beat());
  policies.onError(() => {
    metrics.policyError();
    // Listeners run just before the service records the new error: read it a moment later.
    queueMicrotask(() => {
      const error = policies.lastError();
      if (error) void alerting.engine.onPolicyError(error); // never rejects
    });
  });
  policies.watch();

  const tls = loadTls(config);
  const oidc = sso ? { settings: sso, client: createOidcClient(sso, log.child({ module: 'oidc' })) } : null;
  // Reviews and exception decisions go to the dashboards through the relay too, so it knows
  // they were shown and does not send them again when another connection commits.
  // Year-long trends and the filter lists are summed in a worker thread on a SQLite file (issue 18).
  const readFile = offThreadFile(store);
  const reads = readFile ? createOffThreadReads(readFile, log.child({ module: 'reports' })) : undefined;
  const api = createApi({ store, gateway, policies, metrics, live: relay ? { ...live, publish: relay.publish } : live, health, log, secure: tls !== null, alerts: alerting, clientAddress, oidc, reads });
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
  log.info({ url, data: resolve(config.dataDir), store: store.location, showNames: config.showNames, sso: sso ? { issuer: sso.issuer.href, redirect: sso.redirectUrl.href } : null, policies: policies.current().policies.map((p) => p.effective.name) }, 'server listening');
  alerting.start();
  instances.start();
  presence.start();

  return {
    url,
    port,
    async close() {
      policies.close();
      await instances.stop();
      stopRetention();
      await rebuild?.stop();
      await pgRollups?.stop();
      await alerting.stop();
      live.close();
      forwarder.close();
      await gateway.close();
      await presence.stop();
      const closed = new Promise<void>((ok) => server.close(() => ok()));
      server.closeAllConnections(); // keep-alive and stream connections would hold close() open
      await closed;
      await reads?.close();
      await store.close();
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
