/**
 * Dashboard login. The session cookie is HttpOnly, SameSite=Strict, Secure under TLS, and
 * path-wide; every state-changing request made with it must also carry the session's CSRF
 * token in `x-csrf-token` (checked in the router). Logins and failures go to the audit log.
 */
import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import { AppError } from '../../shared/errors.js';
import type { Store } from '../store/index.js';
import { SESSION } from '../store/users.js';
import { sendJson } from './http.js';
import type { Principal, Route } from './router.js';

export const SESSION_COOKIE = 'cg_session';

export function readCookie(req: IncomingMessage, name: string): string | null {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return null;
}

function cookie(value: string, maxAgeSec: number, secure: boolean): string {
  return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSec}${secure ? '; Secure' : ''}`;
}

const Login = z.object({ username: z.string().min(1).max(128), password: z.string().min(1).max(1024) });

export function sessionRoutes(store: Store, secure: boolean): Route[] {
  return [
    {
      method: 'POST', path: '/api/session', roles: null,
      handle: async ({ res, body, req }) => {
        const parsed = Login.safeParse(await body());
        if (!parsed.success) throw new AppError('bad_request', 'body must be {"username": "...", "password": "..."}');
        const { username, password } = parsed.data;
        const result = store.users.login(username, password);
        if (!result.ok) {
          store.audit.record(username, result.reason === 'locked' ? 'login-locked' : 'login-failed', { ip: req.socket.remoteAddress });
          if (result.reason === 'locked') throw new AppError('rate_limited', 'too many failed logins for this user; try again in 15 minutes or ask an administrator');
          throw new AppError('unauthorized', 'wrong user name or password');
        }
        store.audit.record(result.user.name, 'login', { ip: req.socket.remoteAddress });
        res.setHeader('set-cookie', cookie(result.sessionId, SESSION.maxMs / 1000, secure));
        sendJson(res, 200, { user: { name: result.user.name, role: result.user.role }, csrfToken: result.user.csrfToken });
      },
    },
    {
      method: 'GET', path: '/api/session', roles: null,
      handle: ({ res, req }) => {
        const id = readCookie(req, SESSION_COOKIE);
        const user = id ? store.users.session(id) : undefined;
        if (!user) throw new AppError('unauthorized', 'not logged in');
        sendJson(res, 200, { user: { name: user.name, role: user.role }, csrfToken: user.csrfToken });
      },
    },
    {
      method: 'DELETE', path: '/api/session', roles: ['lead', 'admin'],
      handle: ({ res, req, principal }) => {
        const id = readCookie(req, SESSION_COOKIE);
        if (id) store.users.logout(id);
        store.audit.record(principal!.name ?? '?', 'logout');
        res.writeHead(204, { 'set-cookie': cookie('', 0, secure), 'cache-control': 'no-store' });
        res.end();
      },
    },
  ];
}

/** The principal behind a request's session cookie, if any. */
export function sessionPrincipal(store: Store, req: IncomingMessage): (Principal & { csrfToken: string }) | null {
  const id = readCookie(req, SESSION_COOKIE);
  const user = id ? store.users.session(id) : undefined;
  return user ? { kind: 'session', id: user.name, name: user.name, role: user.role, csrfToken: user.csrfToken } : null;
}
