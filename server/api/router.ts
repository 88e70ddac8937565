/**
 * A small router: method + path pattern + required roles -> handler. Authentication and
 * the error shape live here, once. Routes come from the modules beside this file.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { Role } from '../store/tokens.js';
import { sendError } from './http.js';

export interface Principal {
  kind: 'token' | 'session';
  id: string;
  name: string | null;
  role: Role;
  /** Sessions only: state-changing requests must echo it in x-csrf-token. */
  csrfToken?: string;
  /** Sessions only: the hash of the session id (names the session without being it). */
  sessionKey?: string;
}

/** How a principal appears in the audit log (see store/audit.ts); null: no credentials. */
export function actorOf(p: Principal | null): string {
  if (!p) return 'anonymous';
  return p.kind === 'token' ? `token:${p.name ?? p.id}` : (p.name ?? p.id);
}

export interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: Record<string, string>;
  principal: Principal | null;
  body(): Promise<unknown>;
}

export interface Route {
  method: 'GET' | 'POST' | 'DELETE';
  path: string; // "/api/agents/:id/revoke"
  roles: Role[] | null; // null: no credentials needed
  handle(ctx: Ctx): void | Promise<void>;
}

const MAX_BODY = 64 * 1024;

function compile(path: string): { re: RegExp; names: string[] } {
  const names: string[] = [];
  const re = path.replace(/:[a-zA-Z]+/g, (m) => {
    names.push(m.slice(1));
    return '([^/]+)';
  });
  return { re: new RegExp(`^${re}$`), names };
}

function readBody(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new AppError('bad_request', `request body over ${MAX_BODY} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (size === 0) return resolve({});
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        reject(new AppError('bad_request', 'request body is not valid JSON'));
      }
    });
    req.on('error', reject);
  });
}

export function createRouter(routes: Route[], authenticate: (req: IncomingMessage) => Promise<Principal | null>, log: Logger) {
  const compiled = routes.map((r) => ({ route: r, ...compile(r.path) }));
  return async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let path = '?';
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      path = url.pathname;
      decodeParam('path', url.pathname); // a malformed %-escape anywhere is a 400, routed or not
      const matches = compiled.map((c) => ({ c, m: c.re.exec(url.pathname) })).filter((x) => x.m !== null);
      if (matches.length === 0) throw new AppError('not_found', `no route ${url.pathname.slice(0, 200)}; see README "HTTP API"`);
      const method = req.method === 'HEAD' ? 'GET' : req.method;
      // A literal path beats a pattern (/api/violations/stream over /api/violations/:id).
      const hit = matches.filter((x) => x.c.route.method === method).sort((a, b) => a.c.names.length - b.c.names.length)[0];
      if (!hit) throw new AppError('bad_request', `${req.method} is not allowed on ${url.pathname.slice(0, 200)}`);
      const params: Record<string, string> = {};
      hit.c.names.forEach((n, i) => (params[n] = decodeParam(n, hit.m![i + 1]!)));
      const route = hit.c.route;
      const principal = await authenticate(req);
      // A cookie is sent by the browser whoever made the page: state changes on a session
      // need the CSRF token too (bearer tokens are not ambient, so they are exempt).
      if (principal?.kind === 'session' && method !== 'GET' && !(route.path === '/api/session' && method === 'POST')) {
        const sent = req.headers['x-csrf-token'];
        if (typeof sent !== 'string' || sent !== principal.csrfToken) throw new AppError('csrf', 'missing or wrong x-csrf-token header; reload the dashboard');
      }
      if (route.roles) {
        if (!principal) throw new AppError('unauthorized', 'this route needs "Authorization: Bearer TOKEN" or a dashboard login; create a token with `consultguard-server token create --role lead`');
        if (!route.roles.includes(principal.role)) throw new AppError('forbidden', `this route needs the ${route.roles.join(' or ')} role; you have ${principal.role}`);
      }
      await route.handle({ req, res, url, params, principal, body: () => readBody(req) });
    } catch (err) {
      if (res.headersSent) {
        // A stream that failed half-way (CSV, SSE): cut it, so the client sees it incomplete.
        log.warn({ err, path }, 'request failed after the reply started');
        res.destroy();
        return;
      }
      const e = sendError(res, err);
      if (e.unexpected) log.error({ err, path, code: e.code }, 'request failed');
    }
  };
}

/** A path parameter, percent-decoded; a malformed escape (`%E0%A4%A`) is the client's error. */
function decodeParam(name: string, raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new AppError('bad_request', `${name === 'path' ? 'path' : `path (${name})`}: malformed %-escape; percent-encode it as UTF-8 (e.g. with encodeURIComponent)`);
  }
}
