/**
 * Single sign-on options (README "Single sign-on"). Each is a server option like the others
 * (command line, CONSULTGUARD_OIDC_* environment, config file); `oidcSettings` checks that
 * they make one whole configuration, or none, before the server opens anything.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { AppError } from '../../shared/errors.js';
import { isLoopbackHost } from '../../shared/net.js';
import type { OptionSpec } from '../../shared/config.js';

/** The one path the provider sends the browser back to; the redirect URL must end in it. */
export const CALLBACK_PATH = '/auth/oidc/callback';
export const LOGIN_PATH = '/auth/oidc/login';

export const OIDC_OPTIONS: OptionSpec[] = [
  { key: 'oidcIssuer', flag: 'oidc-issuer', env: 'CONSULTGUARD_OIDC_ISSUER', type: 'string', describe: 'single sign-on: the OpenID provider\'s issuer URL (https unless loopback)' },
  { key: 'oidcClientId', flag: 'oidc-client-id', env: 'CONSULTGUARD_OIDC_CLIENT_ID', type: 'string', describe: 'the client id registered at the provider' },
  { key: 'oidcClientSecret', flag: 'oidc-client-secret', env: 'CONSULTGUARD_OIDC_CLIENT_SECRET', type: 'string', describe: 'its client secret (or --oidc-client-secret-file)' },
  { key: 'oidcClientSecretFile', flag: 'oidc-client-secret-file', env: 'CONSULTGUARD_OIDC_CLIENT_SECRET_FILE', type: 'string', describe: 'a file holding the client secret (first line)' },
  { key: 'oidcRedirectUrl', flag: 'oidc-redirect-url', env: 'CONSULTGUARD_OIDC_REDIRECT_URL', type: 'string', describe: `the redirect URI registered at the provider: https://THIS-SERVER${CALLBACK_PATH}` },
  { key: 'oidcRolesClaim', flag: 'oidc-roles-claim', env: 'CONSULTGUARD_OIDC_ROLES_CLAIM', type: 'string', describe: 'the ID token claim listing the user\'s groups (default groups; dots for nested, e.g. realm_access.roles)' },
  { key: 'oidcAdminGroup', flag: 'oidc-admin-group', env: 'CONSULTGUARD_OIDC_ADMIN_GROUP', type: 'string', describe: 'group(s), comma-separated, whose members sign in as admin' },
  { key: 'oidcLeadGroup', flag: 'oidc-lead-group', env: 'CONSULTGUARD_OIDC_LEAD_GROUP', type: 'string', describe: 'group(s), comma-separated, whose members sign in as lead' },
  { key: 'oidcName', flag: 'oidc-name', env: 'CONSULTGUARD_OIDC_NAME', type: 'string', describe: 'the provider\'s name on the sign-in button (default: the issuer\'s host)' },
  { key: 'oidcScopes', flag: 'oidc-scopes', env: 'CONSULTGUARD_OIDC_SCOPES', type: 'string', describe: 'scopes asked for, space-separated (default "openid profile email")' },
];

const Groups = z.union([z.string(), z.array(z.string())]).transform((v) => (Array.isArray(v) ? v : v.split(',')).map((g) => g.trim()).filter((g) => g !== ''));

/** The fields as ServerConfig holds them (flat, so the config file uses the option names). */
export const OidcOptions = z.object({
  oidcIssuer: z.url().optional(),
  oidcClientId: z.string().min(1).optional(),
  oidcClientSecret: z.string().min(1).optional(),
  oidcClientSecretFile: z.string().min(1).optional(),
  oidcRedirectUrl: z.url().optional(),
  oidcRolesClaim: z.string().regex(/^[A-Za-z0-9_:/.-]{1,200}$/, 'expected a claim name such as groups or realm_access.roles').default('groups'),
  oidcAdminGroup: Groups.optional(),
  oidcLeadGroup: Groups.optional(),
  oidcName: z.string().min(1).max(80).optional(),
  oidcScopes: z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+( [\x21\x23-\x5b\x5d-\x7e]+)*$/, 'expected scopes separated by single spaces').default('openid profile email'),
});
type OidcFields = z.infer<typeof OidcOptions>;

export interface OidcSettings {
  issuer: URL;
  clientId: string;
  /** Undefined: a public client (PKCE only, token_endpoint_auth_method none). */
  clientSecret: string | undefined;
  redirectUrl: URL;
  rolesClaim: string;
  adminGroups: string[];
  leadGroups: string[];
  name: string;
  scopes: string;
  /** Plain http to the issuer: only to loopback (tests, a provider on this machine). */
  insecure: boolean;
}

const bad = (flag: string, message: string) => new AppError('bad_option', `--${flag}: ${message}`);

/** Null when single sign-on is off (no issuer); otherwise a whole, checked configuration. */
export function oidcSettings(c: OidcFields, readFile: (path: string) => string = (p) => readFileSync(p, 'utf8')): OidcSettings | null {
  const others = (['oidcClientId', 'oidcClientSecret', 'oidcClientSecretFile', 'oidcRedirectUrl', 'oidcAdminGroup', 'oidcLeadGroup', 'oidcName'] as const).filter((k) => c[k] !== undefined);
  if (!c.oidcIssuer) {
    if (others.length) throw bad('oidc-issuer', `missing: ${others.map(flagOf).join(', ')} ${others.length > 1 ? 'are' : 'is'} set, so single sign-on needs its issuer URL too`);
    return null;
  }
  const issuer = new URL(c.oidcIssuer);
  const loopback = isLoopbackHost(issuer.hostname);
  if (issuer.protocol !== 'https:' && !(issuer.protocol === 'http:' && loopback)) throw bad('oidc-issuer', `expected an https:// URL (plain http only to a provider on this machine), got ${issuer.protocol}//${issuer.host}`);
  if (!c.oidcClientId) throw bad('oidc-client-id', 'missing: the client id registered at the provider for ConsultGuard');
  if (!c.oidcRedirectUrl) throw bad('oidc-redirect-url', `missing: the redirect URI registered at the provider, e.g. https://guard.clinic.example${CALLBACK_PATH}`);
  const redirectUrl = new URL(c.oidcRedirectUrl);
  if (redirectUrl.pathname !== CALLBACK_PATH || redirectUrl.search || redirectUrl.hash) throw bad('oidc-redirect-url', `expected https://THIS-SERVER${CALLBACK_PATH} exactly (the path the server answers), got ${redirectUrl.href}`);
  if (redirectUrl.protocol !== 'https:' && !(redirectUrl.protocol === 'http:' && isLoopbackHost(redirectUrl.hostname))) throw bad('oidc-redirect-url', 'expected https:// (plain http only for a browser on this machine): the sign-in code travels in it');
  if (c.oidcClientSecret && c.oidcClientSecretFile) throw bad('oidc-client-secret-file', 'give the client secret once: --oidc-client-secret or --oidc-client-secret-file, not both');
  let clientSecret = c.oidcClientSecret;
  if (c.oidcClientSecretFile) {
    try {
      clientSecret = readFile(c.oidcClientSecretFile).split(/\r?\n/)[0]!.trim();
    } catch (err) {
      throw bad('oidc-client-secret-file', `cannot read ${c.oidcClientSecretFile}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`);
    }
    if (!clientSecret) throw bad('oidc-client-secret-file', `${c.oidcClientSecretFile} is empty`);
  }
  const adminGroups = c.oidcAdminGroup ?? [];
  const leadGroups = c.oidcLeadGroup ?? [];
  if (adminGroups.length + leadGroups.length === 0) throw bad('oidc-admin-group', 'missing: name the group(s) whose members sign in as admin (and --oidc-lead-group for leads); nobody could sign in otherwise');
  if (!c.oidcScopes.split(' ').includes('openid')) throw bad('oidc-scopes', 'must include openid');
  return {
    issuer, clientId: c.oidcClientId, clientSecret, redirectUrl, rolesClaim: c.oidcRolesClaim, adminGroups, leadGroups,
    name: c.oidcName ?? issuer.hostname, scopes: c.oidcScopes, insecure: issuer.protocol === 'http:',
  };
}

function flagOf(key: string): string {
  return `--${OIDC_OPTIONS.find((o) => o.key === key)?.flag ?? key}`;
}
