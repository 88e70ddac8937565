/**
 * The HTTP side: health, metrics, the REST API (CONTRACTS section 4) and the dashboard.
 * Every /api route needs a bearer token (or a dashboard session).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Gauge } from 'prom-client';
import { AppError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { Gateway } from '../gateway/index.js';
import type { HealthService } from '../health/index.js';
import type { Metrics } from '../metrics.js';
import type { PolicyService } from '../policy/index.js';
import type { SqliteStore, Store } from '../store/index.js';
import { staticRoutes } from '../web/static-files.js';
import type { OffThreadReads } from './reads-off-thread.js';
import { sessionPrincipal, sessionRoutes } from './session.js';
import { adminRoutes, agentAssignRoute, auditCsvRoute } from './admin.js';
import { openApiRoute } from './openapi.js';
import { appNameOf, policyRoutes } from './policies.js';
import { agentRoutes } from './agents.js';
import { alertRoutes, type AlertApiDeps } from './alerts.js';
import { bearer, sendJson, sendText } from './http.js';
import type { ClientAddress } from './client-address.js';
import type { LiveFeed } from './live.js';
import { actorOf, createRouter, type Principal, type Route } from './router.js';
import { violationRoutes } from './violations.js';
import { subjectRoutes } from './subjects.js';
import { exceptionRoutes } from './exceptions.js';
import { oidcRoutes, type OidcDeps } from '../oidc/routes.js';

export interface ApiDeps {
  store: Store;
  gateway: Gateway;
  policies: PolicyService;
  metrics: Metrics;
  live: LiveFeed;
  health: HealthService;
  log: Logger;
  /** Serving over TLS: cookies get the Secure flag. */
  secure: boolean;
  /** The client's address for the login limits and the audit log (client-address.ts: X-Forwarded-For from trusted proxies only). */
  clientAddress: ClientAddress;
  /** Alert rules and report schedules (server/alerts/, server/reports/). */
  alerts?: Omit<AlertApiDeps, 'audit'>;
  /** Single sign-on (server/oidc/); null or missing: local accounts only. */
  oidc?: OidcDeps | null;
  /** Trends and filter lists off the event loop (SQLite file stores; reads-off-thread.ts); missing: on the loop. */
  reads?: OffThreadReads;
}

/**
 * The CSV export's and the report reader's workers read the SQLite file with their own
 * connections; PostgreSQL (and an in-memory SQLite) answer on the event loop (its queries
 * wait on the network, not the loop).
 */
export function offThreadFile(store: Store): { file: string; showNames: boolean } | undefined {
  if (store.engine !== 'sqlite') return undefined;
  const { db } = store as SqliteStore;
  return db.memory ? undefined : { file: db.name, showNames: store.people.showNames };
}

function offThreadOf(store: Store, reads: OffThreadReads | undefined) {
  const file = offThreadFile(store);
  return file && { ...file, reads };
}

export function createApi(deps: ApiDeps): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const audit = (p: Principal | null, action: string, detail: Record<string, unknown> = {}) => deps.store.audit.record(actorOf(p), action, detail);
  // A live stream re-checks the credential it was opened with (logout, reset, disable, revoke).
  const credentialLive = (p: Principal | null) => async (): Promise<boolean> => {
    if (p?.kind === 'session') return p.sessionKey !== undefined && (await deps.store.users.sessionLive(p.sessionKey));
    if (p?.kind === 'token') return deps.store.apiTokens.live(p.id);
    return false;
  };
  registerApiMetrics(deps);
  const routes: Route[] = [
    {
      method: 'GET', path: '/healthz', roles: null,
      // The truth about each part (server/health/): 503 with store_unavailable when the store is not usable.
      handle: async ({ res }) => {
        const { httpStatus, body } = await deps.health.report();
        sendJson(res, httpStatus, body);
      },
    },
    {
      method: 'GET', path: '/metrics', roles: null,
      handle: async ({ res }) => sendText(res, 200, deps.metrics.registry.contentType, await deps.metrics.registry.metrics()),
    },
    ...sessionRoutes(deps.store, deps.live, deps.secure, deps.clientAddress),
    ...oidcRoutes(deps.store, deps.oidc ?? null, deps.secure, deps.log.child({ module: 'oidc' }), deps.clientAddress),
    // Trend days are the clinic's days: the default policy's time zone.
    ...violationRoutes(deps.store.violations, deps.live, audit, () => deps.policies.policyFor({}).timezone, credentialLive, deps.store.reveals, appNameOf(deps.policies), deps.store.exceptions,
      offThreadOf(deps.store, deps.reads)),
    ...subjectRoutes(deps.store, audit),
    ...exceptionRoutes(deps.store.exceptions, deps.store.violations, deps.live, audit),
    {
      method: 'GET', path: '/api/audit', roles: ['admin'],
      handle: async ({ res, url }) => {
        const limit = Math.min(1000, Math.max(1, Number(url.searchParams.get('limit') ?? 200) || 200));
        const before = url.searchParams.get('before');
        if (before !== null && !/^\d{1,15}$/.test(before)) throw new AppError('bad_request', 'query before: expected the seq of an audit entry (a whole number) from a previous page');
        sendJson(res, 200, { items: await deps.store.audit.list(limit, before ? Number(before) : undefined) });
      },
    },
    ...agentRoutes(deps.store.agents, deps.gateway, deps.policies.policyFor, audit, deps.store.changes),
    ...adminRoutes(deps.store, deps.live),
    ...(deps.alerts ? alertRoutes({ ...deps.alerts, audit }) : []),
    agentAssignRoute(deps.store, deps.gateway, deps.policies),
    auditCsvRoute(deps.store),
    ...policyRoutes(deps.policies, deps.store.agents),
    ...staticRoutes(),
  ];
  // Described last: the document lists every route above (server/api/openapi.ts).
  routes.push(openApiRoute(routes));

  async function authenticate(req: IncomingMessage): Promise<Principal | null> {
    const token = bearer(req);
    if (!token) return sessionPrincipal(deps.store, req);
    const found = await deps.store.apiTokens.verify(token);
    return found ? { kind: 'token', id: found.id, name: found.name, role: found.role } : null;
  }

  return createRouter(routes, authenticate, deps.log.child({ module: 'api' }));
}

/** Counts for the login hashing queue and the live streams, beside the server's own metrics. */
function registerApiMetrics(deps: ApiDeps): void {
  const registers = [deps.metrics.registry];
  const kdf = () => deps.store.users.kdfStats();
  new Gauge({ name: 'consultguard_login_hashes_active', help: 'Password checks running now (capped)', registers, collect() { this.set(kdf().active); } });
  new Gauge({ name: 'consultguard_login_hashes_active_max', help: 'Most password checks that ran at once since start', registers, collect() { this.set(kdf().peak); } });
  new Gauge({ name: 'consultguard_login_hashes_queued', help: 'Password checks waiting for a slot', registers, collect() { this.set(kdf().queued); } });
  new Gauge({ name: 'consultguard_login_hashes_refused', help: 'Logins refused because the password-check queue was full, since start', registers, collect() { this.set(kdf().refused); } });
  new Gauge({ name: 'consultguard_live_streams', help: 'Open live-feed (SSE) streams', registers, collect() { this.set(deps.live.size()); } });
  new Gauge({ name: 'consultguard_live_streams_dropped', help: 'Live-feed streams dropped for falling behind, since start', registers, collect() { this.set(deps.live.dropped()); } });
}
