/**
 * Dashboard login. The session cookie is HttpOnly, SameSite=Strict, Secure under TLS, and
 * path-wide; every state-changing request made with it must also carry the session's CSRF
 * token in `x-csrf-token` (checked in the router). Logins and failures go to the audit log,
 * with the client address; the login limits are in store/users.ts.
 */
import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import { AppError } from '../../shared/errors.js';
import type { Store } from '../store/index.js';
import { SESSION, type LoginRefusal } from '../store/users.js';
import type { ClientAddress } from './client-address.js';
import { RetryLater, sendJson } from './http.js';
import type { LiveFeed } from './live.js';
import { actorOf, type Principal, type Route } from './router.js';

export const SESSION_COOKIE = 'cg_session';

export function readCookie(req: IncomingMessage, name: string): string | null {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return null;
}

/** The session cookie, for every way of signing in (a password here, single sign-on in server/oidc/). */
export function sessionCookie(value: string, maxAgeSec: number, secure: boolean): string {
  return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSec}${secure ? '; Secure' : ''}`;
}

const Login = z.object({ username: z.string().min(1).max(128), password: z.string().min(1).max(1024) });

const REFUSED: Record<LoginRefusal['reason'], { action: string; error: (retry: number) => AppError }> = {
  wrong: { action: 'login-failed', error: () => new AppError('unauthorized', 'wrong user name or password') },
  locked: { action: 'login-locked', error: (r) => new RetryLater('rate_limited', `too many failed logins for this user from this address; try again in ${minutes(r)} or ask an administrator`, r) },
  'address-limited': { action: 'login-address-limited', error: (r) => new RetryLater('rate_limited', `too many failed logins from this address; try again in ${minutes(r)}`, r) },
  'user-limited': { action: 'login-user-limited', error: (r) => new RetryLater('rate_limited', `too many failed logins for this user; try again in ${minutes(r)} from an address you signed in from before, or ask an administrator`, r) },
};

function minutes(sec: number): string {
  const m = Math.ceil(sec / 60);
  return m <= 1 ? 'a minute' : `${m} minutes`;
}

export function sessionRoutes(store: Store, live: LiveFeed, secure: boolean, clientAddress: ClientAddress): Route[] {
  return [
    {
      method: 'POST', path: '/api/session', roles: null,
      handle: async ({ res, body, req }) => {
        const parsed = Login.safeParse(await body());
        if (!parsed.success) throw new AppError('bad_request', 'body must be {"username": "...", "password": "..."}');
        const { username, password } = parsed.data;
        const ip = clientAddress(req);
        // May throw KdfBusy (429, Retry-After: 1) when too many logins are being checked.
        const result = await store.users.login(username, password, ip);
        if (!result.ok) {
          const refusal = REFUSED[result.reason];
          await store.audit.record(username, refusal.action, { ip });
          throw refusal.error(result.retryAfterSec);
        }
        await store.audit.record(result.user.name, 'login', { ip });
        res.setHeader('set-cookie', sessionCookie(result.sessionId, SESSION.maxMs / 1000, secure));
        sendJson(res, 200, { user: { name: result.user.name, role: result.user.role }, csrfToken: result.user.csrfToken });
      },
    },
    {
      method: 'GET', path: '/api/session', roles: null,
      handle: async ({ res, req }) => {
        const id = readCookie(req, SESSION_COOKIE);
        const user = id ? await store.users.session(id) : undefined;
        if (!user) throw new AppError('unauthorized', 'not logged in');
        sendJson(res, 200, { user: { name: user.name, role: user.role }, csrfToken: user.csrfToken });
      },
    },
    {
      method: 'DELETE', path: '/api/session', roles: ['lead', 'admin'],
      handle: async ({ res, req, principal }) => {
        const id = readCookie(req, SESSION_COOKIE);
        if (id) await store.users.logout(id);
        // The session's open live streams end with it, not at their next reconnect.
        await live.revalidate();
        await store.audit.record(actorOf(principal), 'logout');
        res.writeHead(204, { 'set-cookie': sessionCookie('', 0, secure), 'cache-control': 'no-store' });
        res.end();
      },
    },
  ];
}

/** The principal behind a request's session cookie, if any. */
export async function sessionPrincipal(store: Store, req: IncomingMessage): Promise<(Principal & { csrfToken: string }) | null> {
  const id = readCookie(req, SESSION_COOKIE);
  const user = id ? await store.users.session(id) : undefined;
  return user ? { kind: 'session', id: user.name, name: user.name, role: user.role, csrfToken: user.csrfToken, sessionKey: user.sessionKey } : null;
}
