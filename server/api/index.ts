/**
 * The HTTP side: health, metrics, the REST API (CONTRACTS section 4) and the dashboard.
 * Every /api route needs a bearer token (or a dashboard session).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../shared/log.js';
import type { Gateway } from '../gateway/index.js';
import type { Metrics } from '../metrics.js';
import type { PolicyService } from '../policy/index.js';
import type { Store } from '../store/index.js';
import { dashboardPage } from '../web/page.js';
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
  log: Logger;
}

export function createApi(deps: ApiDeps): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const routes: Route[] = [
    {
      method: 'GET', path: '/healthz', roles: null,
      handle: ({ res }) => {
        const policyError = deps.policies.lastError();
        sendJson(res, 200, { ok: true, store: 'open', agentsOnline: deps.gateway.onlineCount(), ...(policyError ? { policyError } : {}) });
      },
    },
    {
      method: 'GET', path: '/metrics', roles: null,
      handle: async ({ res }) => sendText(res, 200, deps.metrics.registry.contentType, await deps.metrics.registry.metrics()),
    },
    ...violationRoutes(deps.store.violations, deps.live),
    ...agentRoutes(deps.store.agents, deps.gateway, deps.policies.policyFor),
    ...adminRoutes(deps.store),
    {
      method: 'GET', path: '/', roles: null,
      handle: ({ res }) => sendText(res, 200, 'text/html; charset=utf-8', dashboardPage(), {
        'content-security-policy': "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        'x-frame-options': 'DENY',
      }),
    },
  ];

  function authenticate(req: IncomingMessage): Principal | null {
    const token = bearer(req);
    if (!token) return null;
    const found = deps.store.apiTokens.verify(token);
    return found ? { kind: 'token', id: found.id, name: found.name, role: found.role } : null;
  }

  return createRouter(routes, authenticate, deps.log.child({ module: 'api' }));
}
