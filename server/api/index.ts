/**
 * The HTTP side: health, metrics, the REST API (CONTRACTS section 4) and the dashboard.
 * Every /api route needs a bearer token (or a dashboard session).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../shared/log.js';
import type { Gateway } from '../gateway/index.js';
import type { HealthService } from '../health/index.js';
import type { Metrics } from '../metrics.js';
import type { PolicyService } from '../policy/index.js';
import type { Store } from '../store/index.js';
import { staticRoutes } from '../web/static-files.js';
import { sessionPrincipal, sessionRoutes } from './session.js';
import { adminRoutes } from './admin.js';
import { agentRoutes } from './agents.js';
import { bearer, sendJson, sendText } from './http.js';
import type { LiveFeed } from './live.js';
import { createRouter, type Principal, type Route } from './router.js';
import { violationRoutes } from './violations.js';

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
}

export function createApi(deps: ApiDeps): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const audit = (p: Principal | null, action: string, detail: Record<string, unknown> = {}) =>
    deps.store.audit.record(p ? `${p.kind === 'token' ? 'token:' : ''}${p.name ?? p.id}` : 'anonymous', action, detail);
  const routes: Route[] = [
    {
      method: 'GET', path: '/healthz', roles: null,
      // The truth about each part (server/health/): 503 with store_unavailable when the store is not usable.
      handle: ({ res }) => {
        const { httpStatus, body } = deps.health.report();
        sendJson(res, httpStatus, body);
      },
    },
    {
      method: 'GET', path: '/metrics', roles: null,
      handle: async ({ res }) => sendText(res, 200, deps.metrics.registry.contentType, await deps.metrics.registry.metrics()),
    },
    ...sessionRoutes(deps.store, deps.secure),
    // Trend days are the clinic's days: the default policy's time zone.
    ...violationRoutes(deps.store.violations, deps.live, audit, () => deps.policies.policyFor({}).timezone),
    {
      method: 'GET', path: '/api/audit', roles: ['admin'],
      handle: ({ res, url }) => {
        const limit = Math.min(1000, Math.max(1, Number(url.searchParams.get('limit') ?? 200) || 200));
        const before = url.searchParams.get('before');
        sendJson(res, 200, { items: deps.store.audit.list(limit, before ? Number(before) : undefined) });
      },
    },
    ...agentRoutes(deps.store.agents, deps.gateway, deps.policies.policyFor),
    ...adminRoutes(deps.store),
    ...staticRoutes(),
  ];

  function authenticate(req: IncomingMessage): Principal | null {
    const token = bearer(req);
    if (!token) return sessionPrincipal(deps.store, req);
    const found = deps.store.apiTokens.verify(token);
    return found ? { kind: 'token', id: found.id, name: found.name, role: found.role } : null;
  }

  return createRouter(routes, authenticate, deps.log.child({ module: 'api' }));
}
