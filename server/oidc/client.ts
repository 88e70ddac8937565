/**
 * The OpenID Connect relying party, on `openid-client` (a certified library: discovery,
 * PKCE, the code exchange and every ID token check — signature, issuer, audience, expiry,
 * nonce, state — are its work, not ours). Discovery happens at the first sign-in and is
 * kept; a provider that cannot be reached is asked again at the next one.
 *
 * Nothing from the provider is kept but the claims a sign-in needs: the ID token, the
 * access token and any refresh token are dropped when `finish` returns, and never logged.
 */
import type * as Oidc from 'openid-client';
import { AppError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { OidcSettings } from './config.js';

export interface Started {
  url: URL;
  state: string;
  nonce: string;
  verifier: string;
}

export interface Finished {
  issuer: string;
  subject: string;
  username: string;
  claims: Record<string, unknown>;
}

/** A provider that did not answer in time or at all: sso_unavailable. */
const DISCOVERY_TIMEOUT_SEC = 10;

/** Loaded at the first sign-in, not at start: the server's CLI commands never pay for it. */
const library = (): Promise<typeof Oidc> => import('openid-client');

export function createOidcClient(s: OidcSettings, log: Logger) {
  let config: Promise<Oidc.Configuration> | null = null;

  function configuration(): Promise<Oidc.Configuration> {
    config ??= library().then((oidc) => oidc
      .discovery(
        s.issuer,
        s.clientId,
        s.clientSecret === undefined ? { token_endpoint_auth_method: 'none' } : { token_endpoint_auth_method: 'client_secret_basic' },
        // HTTP Basic: the method every provider must accept (RFC 6749 2.3.1), and Okta's and oidc-provider's default.
        s.clientSecret === undefined ? oidc.None() : oidc.ClientSecretBasic(s.clientSecret),
        { timeout: DISCOVERY_TIMEOUT_SEC, ...(s.insecure ? { execute: [oidc.allowInsecureRequests] } : {}) },
      ))
      .catch((err: unknown) => {
        config = null; // ask again next time
        log.warn({ issuer: s.issuer.href, error: errorSummary(err) }, 'OpenID provider discovery failed');
        throw new AppError('sso_unavailable', `${s.name} cannot be reached right now; try again in a minute, or sign in with a local account`, { cause: err });
      });
    return config;
  }

  return {
    name: s.name,
    /** Where to send the browser, with fresh state, nonce and PKCE verifier to keep until it is back. */
    async start(): Promise<Started> {
      const [c, oidc] = await Promise.all([configuration(), library()]);
      const verifier = oidc.randomPKCECodeVerifier();
      const state = oidc.randomState();
      const nonce = oidc.randomNonce();
      const url = oidc.buildAuthorizationUrl(c, {
        redirect_uri: s.redirectUrl.href,
        scope: s.scopes,
        response_type: 'code',
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state,
        nonce,
      });
      return { url, state, nonce, verifier };
    },
    /**
     * Checks the provider's answer (`query`: the callback's query string) against what was
     * kept, exchanges the code, validates the ID token; the claims, or sso_failed.
     */
    async finish(query: URLSearchParams, kept: { state: string; nonce: string; verifier: string }): Promise<Finished> {
      const [c, oidc] = await Promise.all([configuration(), library()]);
      // The exact redirect URI registered, whatever Host header this request came with.
      const current = new URL(s.redirectUrl.href);
      current.search = query.toString();
      let tokens: Awaited<ReturnType<typeof Oidc.authorizationCodeGrant>>;
      try {
        tokens = await oidc.authorizationCodeGrant(c, current, { pkceCodeVerifier: kept.verifier, expectedState: kept.state, expectedNonce: kept.nonce, idTokenExpected: true });
      } catch (err) {
        log.warn({ error: errorSummary(err) }, 'single sign-on answer refused');
        throw new AppError('sso_failed', failureText(err, s.name), { cause: err });
      }
      const claims = tokens.claims();
      if (!claims) throw new AppError('sso_failed', `${s.name} sent no ID token; check that the client is set up for OpenID Connect (scope openid)`);
      const username = [claims.preferred_username, claims.email, claims.upn, claims.sub].find((v): v is string => typeof v === 'string' && v !== '')!;
      return { issuer: claims.iss, subject: claims.sub, username, claims: claims as Record<string, unknown> };
    },
  };
}

export type OidcClient = ReturnType<typeof createOidcClient>;

/** What the log may hold about a failure: names and codes, never a token or claim. */
function errorSummary(err: unknown): Record<string, unknown> {
  const e = err as { name?: unknown; code?: unknown; error?: unknown; message?: unknown; cause?: { code?: unknown } };
  return { name: e?.name, code: e?.code ?? e?.cause?.code, error: typeof e?.error === 'string' ? e.error : undefined, message: typeof e?.message === 'string' ? e.message.slice(0, 200) : undefined };
}

/** The person's words for why the provider's answer was not accepted. */
function failureText(err: unknown, name: string): string {
  const e = err as { name?: unknown; error?: unknown; code?: unknown };
  if (e?.name === 'AuthorizationResponseError' && typeof e.error === 'string') {
    const code = e.error.replace(/[^a-z_]/gi, '').slice(0, 40);
    if (code === 'access_denied') return `${name} did not sign you in (access_denied: cancelled, or not allowed for this app). Try again, or ask IT whether ConsultGuard is assigned to you.`;
    return `${name} answered with an error (${code}). Try again; if it persists, ask IT to check the ConsultGuard app registration.`;
  }
  if (e?.code === 'OAUTH_INVALID_RESPONSE' || e?.code === 'OAUTH_JWT_CLAIM_COMPARISON_FAILED' || e?.code === 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED') {
    return `The answer from ${name} did not match this sign-in (state, nonce or token check failed). Start again from the sign-in page.`;
  }
  return `The sign-in with ${name} could not be completed. Start again from the sign-in page; if it persists, the server log says why.`;
}
