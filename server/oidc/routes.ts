/**
 * Single sign-on routes (README "Single sign-on"): the authorization code flow with PKCE,
 * state and nonce. `GET /auth/oidc/login` keeps a fresh state, nonce and verifier in the
 * store under a short-lived HttpOnly, SameSite=Lax cookie (Lax: the provider's redirect back
 * is a cross-site top-level GET) and sends the browser to the provider; `GET
 * /auth/oidc/callback` takes them back (once), lets openid-client check the answer and the
 * ID token, maps the groups claim to a role, and opens a session exactly like a password
 * login. Every outcome is audited; the pages say what to do, never what an exception said.
 * `GET /api/session/options` tells the sign-in page which ways there are.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppError, isAppError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { ClientAddress } from '../api/client-address.js';
import { httpError, RetryLater, sendJson } from '../api/http.js';
import type { Route } from '../api/router.js';
import { readCookie, sessionCookie } from '../api/session.js';
import type { Store } from '../store/index.js';
import { PENDING_MS } from '../store/oidc.js';
import { SESSION } from '../store/users.js';
import type { OidcClient } from './client.js';
import { CALLBACK_PATH, LOGIN_PATH, type OidcSettings } from './config.js';
import { sendProblem, sendSignedIn, sendToProvider } from './page.js';
import { roleFor } from './roles.js';

export const STATE_COOKIE = 'cg_oidc';

export interface OidcDeps {
  settings: OidcSettings;
  client: OidcClient;
}

/** Where to go after signing in: a path on this server only (no `//host`, no scheme), else the feed. */
export function safeNext(raw: string | null): string {
  if (!raw || !raw.startsWith('/') || raw.startsWith('//') || raw.includes('\\') || [...raw].some((c) => c.charCodeAt(0) < 0x20) || raw.length > 500) return '/violations';
  return raw.startsWith('/login') ? '/violations' : raw;
}

function stateCookie(value: string, maxAgeSec: number, secure: boolean): string {
  return `${STATE_COOKIE}=${value}; Path=/auth/oidc; HttpOnly; SameSite=Lax; Max-Age=${maxAgeSec}${secure ? '; Secure' : ''}`;
}

const TITLES: Partial<Record<string, string>> = {
  sso_failed: 'Sign-in not completed',
  sso_refused: 'Sign-in refused',
  sso_unavailable: 'Sign-in provider unreachable',
  not_found: 'Single sign-on is not set up',
};

export function oidcRoutes(store: Store, oidc: OidcDeps | null, secure: boolean, log: Logger, clientAddress: ClientAddress): Route[] {
  // The state cookie goes where the browser goes: Secure when the redirect URL is https (a TLS proxy included).
  const stateSecure = oidc?.settings.redirectUrl.protocol === 'https:' || secure;
  const clearState = stateCookie('', 0, stateSecure);

  /** Any failure as a page: our message for the client's and the provider's problems, a fixed one for ours. */
  function problem(res: ServerResponse, err: unknown, cookies: string[] = []): void {
    const e = httpError(err);
    if (e.unexpected && !isAppError(err, 'sso_unavailable')) log.error({ err, path: CALLBACK_PATH }, 'single sign-on failed');
    sendProblem(res, e.status, e.code, TITLES[e.code] ?? 'Sign-in failed', e.message, cookies, e.retryAfterSec);
  }

  function notConfigured(): AppError {
    return new AppError('not_found', 'Single sign-on is not set up on this server; sign in with a local account (an administrator sets it up with --oidc-issuer, see README "Single sign-on")');
  }

  async function callback(req: IncomingMessage, res: ServerResponse, url: URL, o: OidcDeps): Promise<void> {
    const ip = clientAddress(req);
    const cookieId = readCookie(req, STATE_COOKIE);
    const kept = cookieId ? await store.oidc.take(cookieId) : null;
    if (!kept) {
      await store.audit.record('anonymous', 'login-failed', { ip, via: 'oidc', reason: cookieId ? 'unknown-or-expired-state' : 'no-state-cookie' });
      throw new AppError('sso_failed', 'This sign-in was not started in this browser, or took longer than 10 minutes, or was already used. Start again from the sign-in page.');
    }
    let who;
    try {
      who = await o.client.finish(url.searchParams, kept);
    } catch (err) {
      await store.audit.record('anonymous', 'login-failed', { ip, via: 'oidc', reason: isAppError(err) ? err.code : 'error' });
      throw err;
    }
    const role = roleFor(who.claims, o.settings);
    const identity = { issuer: who.issuer, subject: who.subject, username: who.username };
    if (!role) {
      const userName = await store.oidc.refused(identity);
      // Its sessions ended: every instance's live streams of theirs end too (as for user disable).
      if (userName) await store.changes.notify('users', userName);
      await store.audit.record(userName ?? `sso:${who.username}`, 'login-refused', { ip, via: 'oidc', subject: who.subject, reason: 'no-mapped-group', claim: o.settings.rolesClaim });
      throw new AppError('sso_refused', `${o.settings.name} signed you in as ${who.username}, but your account is in none of the groups that may use ConsultGuard. Ask IT to add you to the ConsultGuard admin or lead group, then sign in again.`);
    }
    const result = await store.oidc.login(identity, role, ip);
    if (!result.ok) {
      await store.audit.record(result.userName, 'login-refused', { ip, via: 'oidc', subject: who.subject, reason: 'disabled' });
      throw new AppError('sso_refused', `Your ConsultGuard account (${result.userName}) is disabled. Ask a ConsultGuard administrator to enable it (consultguard-server user enable ${result.userName}).`);
    }
    await store.audit.record(result.user.name, 'login', { ip, via: 'oidc', subject: who.subject, issuer: who.issuer, role, ...(result.created ? { created: true } : {}) });
    sendSignedIn(res, kept.next, [sessionCookie(result.sessionId, SESSION.maxMs / 1000, secure), clearState]);
  }

  return [
    {
      method: 'GET', path: '/api/session/options', roles: null,
      handle: ({ res }) => sendJson(res, 200, { password: true, sso: oidc ? { name: oidc.settings.name, loginUrl: LOGIN_PATH } : null }),
    },
    {
      method: 'GET', path: LOGIN_PATH, roles: null,
      handle: async ({ res, url }) => {
        try {
          if (!oidc) throw notConfigured();
          const started = await oidc.client.start();
          const id = await store.oidc.begin({ state: started.state, nonce: started.nonce, verifier: started.verifier, next: safeNext(url.searchParams.get('next')) });
          if (id === null) throw new RetryLater('rate_limited', `Too many sign-ins with ${oidc.settings.name} are under way right now; try again in a minute.`, 60);
          sendToProvider(res, started.url, stateCookie(id, PENDING_MS / 1000, stateSecure));
        } catch (err) {
          problem(res, err);
        }
      },
    },
    {
      method: 'GET', path: CALLBACK_PATH, roles: null,
      handle: async ({ req, res, url }) => {
        try {
          if (!oidc) throw notConfigured();
          await callback(req, res, url, oidc);
        } catch (err) {
          // The state is spent whatever happened: the cookie goes too.
          problem(res, err, [clearState]);
        }
      },
    },
  ];
}
