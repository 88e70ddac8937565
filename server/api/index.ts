/**
 * The HTTP side: health, the REST API (CONTRACTS section 4) and the dashboard page.
 * Every /api route needs a bearer token (or, later, a dashboard session).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { Gateway } from '../gateway/index.js';
import type { PolicyService } from '../policy/index.js';
import type { Store } from '../store/index.js';
import type { Role } from '../store/tokens.js';
import { bearer, sendError, sendJson, sendText } from './http.js';
import { feedPage, parseFeedQuery } from './violations.js';
import { dashboardPage } from '../web/page.js';

export interface ApiDeps {
  store: Store;
  gateway: Gateway;
  policies: PolicyService;
  log: Logger;
}

interface Route {
  method: string;
  path: string;
  roles: Role[] | null; // null: no credentials needed
  handle: (req: IncomingMessage, res: ServerResponse, url: URL) => void;
}

export function createApi(deps: ApiDeps) {
  const log = deps.log.child({ module: 'api' });

  const routes: Route[] = [
    {
      method: 'GET', path: '/healthz', roles: null,
      handle: (_req, res) => {
        const policyError = deps.policies.lastError();
        sendJson(res, 200, { ok: true, store: 'open', agentsOnline: deps.gateway.onlineCount(), ...(policyError ? { policyError } : {}) });
      },
    },
    {
      method: 'GET', path: '/api/violations', roles: ['lead', 'admin'],
      handle: (_req, res, url) => sendJson(res, 200, feedPage(deps.store.violations, parseFeedQuery(url.searchParams))),
    },
    {
      method: 'GET', path: '/api/agents', roles: ['lead', 'admin'],
      handle: (_req, res) => {
        const items = deps.store.agents.list().map((a) => ({
          agentId: a.agent_id, hostname: a.hostname, platform: a.platform, site: a.site, agentVersion: a.agent_version,
          policyVersion: a.policy_version, online: deps.gateway.isOnline(a.agent_id),
          lastSeen: a.last_seen === null ? null : new Date(a.last_seen).toISOString(),
          monitoring: a.monitoring === null ? null : a.monitoring === 1,
        }));
        sendJson(res, 200, { items });
      },
    },
    {
      method: 'GET', path: '/', roles: null,
      handle: (_req, res) => sendText(res, 200, 'text/html; charset=utf-8', dashboardPage(), {
        'content-security-policy': "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        'x-frame-options': 'DENY',
      }),
    },
  ];

  function authorize(req: IncomingMessage, roles: Role[]): void {
    const token = bearer(req);
    if (!token) throw new AppError('unauthorized', 'this route needs "Authorization: Bearer TOKEN"; create one with `consultguard-server token create --role lead`');
    const found = deps.store.apiTokens.verify(token);
    if (!found) throw new AppError('unauthorized', 'API token not recognised or revoked');
    if (!roles.includes(found.role)) throw new AppError('forbidden', `this route needs the ${roles.join(' or ')} role; your token has ${found.role}`);
  }

  return function handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    try {
      const candidates = routes.filter((r) => r.path === url.pathname);
      if (candidates.length === 0) throw new AppError('not_found', `no route ${url.pathname}; see README "HTTP API"`);
      const route = candidates.find((r) => r.method === req.method || (req.method === 'HEAD' && r.method === 'GET'));
      if (!route) throw new AppError('bad_request', `${req.method} is not allowed on ${url.pathname}`);
      if (route.roles) authorize(req, route.roles);
      route.handle(req, res, url);
    } catch (err) {
      if (err instanceof AppError) sendError(res, err);
      else {
        log.error({ err, path: url.pathname }, 'request failed');
        sendError(res, new AppError('internal', 'internal error; the server log has the details'));
      }
    }
  };
}
