/**
 * A real OpenID provider for the single sign-on tests: `oidc-provider` (a certified OP
 * implementation) on a loopback port, with one confidential client for ConsultGuard (PKCE
 * required) and test accounts whose ID tokens carry a `groups` claim (scope `groups`). Its
 * development login and consent pages are the ones a browser goes through; any password is
 * accepted, the login names the account. `signInWithFetch` walks the same pages with plain
 * HTTP for the integration tests.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';

export interface TestAccount {
  preferred_username?: string;
  email?: string;
  /** Changed by a test to change what the next sign-in carries. */
  groups?: string[];
}

export interface TestProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  accounts: Record<string, TestAccount>;
  close(): Promise<void>;
}

export const CLIENT_ID = 'consultguard-test';
export const CLIENT_SECRET = 'test-client-secret-0123456789abcdef';

/** A port free right now on loopback (for the ConsultGuard server whose redirect URI the client must know first). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((ok) => s.listen(0, '127.0.0.1', ok));
  const { port } = s.address() as AddressInfo;
  await new Promise((ok) => s.close(ok));
  return port;
}

export async function startOidcProvider(opts: { redirectUris: string[]; accounts: Record<string, TestAccount> }): Promise<TestProvider> {
  let handler: ((req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void) | null = null;
  const server: Server = createServer((req, res) => handler!(req, res));
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const accounts = opts.accounts;
  const provider = new Provider(issuer, {
    clients: [{ client_id: CLIENT_ID, client_secret: CLIENT_SECRET, redirect_uris: opts.redirectUris, grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic' }],
    async findAccount(_ctx, id) {
      const a = accounts[id];
      if (!a) return undefined;
      return { accountId: id, claims: async () => ({ sub: id, preferred_username: a.preferred_username ?? id, email: a.email, ...(a.groups ? { groups: a.groups } : {}) }) };
    },
    claims: { openid: ['sub'], profile: ['preferred_username', 'name'], email: ['email'], groups: ['groups'] },
    scopes: ['openid', 'profile', 'email', 'groups'],
    // The claims asked for by scope go into the ID token itself (the relying party reads only that).
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    features: { devInteractions: { enabled: true } },
    cookies: { keys: ['test-cookie-key-0123456789abcdef'] },
    // Set, so the provider does not print a notice per artifact kind.
    ttl: { Interaction: 600, Session: 3600, Grant: 3600, AccessToken: 600, IdToken: 600, AuthorizationCode: 60 },
  });
  const callback = provider.callback();
  handler = (req, res) => void callback(req, res);
  // Its own errors (a bad request from a test) are the test's business, not noise.
  provider.on('server_error', () => {});
  return {
    issuer, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, accounts,
    close: () => new Promise<void>((ok) => {
      server.close(() => ok());
      server.closeAllConnections();
    }),
  };
}

/** The server options that point ConsultGuard at this provider. */
export function oidcOptions(p: TestProvider, serverPort: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    oidcIssuer: p.issuer, oidcClientId: p.clientId, oidcClientSecret: p.clientSecret,
    oidcRedirectUrl: `http://127.0.0.1:${serverPort}/auth/oidc/callback`, oidcScopes: 'openid profile email groups',
    oidcAdminGroup: ['cg-admins'], oidcLeadGroup: ['cg-leads'], oidcName: 'Test IdP', ...extra,
  };
}

/** A browser's cookie jar, reduced to what these flows need: one host, names unique across paths. */
export class Jar {
  readonly cookies = new Map<string, string>();
  take(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const gone = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a) || (/^\s*expires=/i.test(a) && Date.parse(a.split('=')[1]!) < Date.now()));
      if (gone) this.cookies.delete(name);
      else this.cookies.set(name, pair!.slice(eq + 1).trim());
    }
  }
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

export interface FlowResult {
  /** The ConsultGuard callback's answer. */
  status: number;
  text: string;
  jar: Jar;
  /** The callback URL the provider sent the browser to (before the test changes it, if it does). */
  callbackUrl: string;
}

/**
 * Signs in as `login` through the provider's login and consent pages with plain HTTP, up to
 * the redirect back to ConsultGuard; `tamper` may change that URL (a wrong state) before
 * the callback is fetched with the browser's cookies.
 */
export async function signInWithFetch(serverUrl: string, login: string, opts: { jar?: Jar; tamper?: (callback: URL) => URL; next?: string } = {}): Promise<FlowResult> {
  const jar = opts.jar ?? new Jar();
  const get = async (url: string, init: RequestInit = {}) => {
    const res = await fetch(url, { ...init, redirect: 'manual', headers: { ...(init.headers as Record<string, string> | undefined), cookie: jar.header() } });
    jar.take(res);
    return res;
  };
  let res = await get(`${serverUrl}/auth/oidc/login${opts.next ? `?next=${encodeURIComponent(opts.next)}` : ''}`);
  if (res.status !== 302) throw new Error(`login start answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
  let url = new URL(res.headers.get('location')!);
  for (let hops = 0; hops < 20; hops++) {
    if (url.pathname === '/auth/oidc/callback') {
      const target = opts.tamper ? opts.tamper(new URL(url)) : url;
      const final = await get(target.href);
      return { status: final.status, text: await final.text(), jar, callbackUrl: url.href };
    }
    res = await get(url.href);
    if (res.status >= 300 && res.status < 400) {
      url = new URL(res.headers.get('location')!, url);
      continue;
    }
    const html = await res.text();
    if (res.status !== 200) throw new Error(`provider answered ${res.status} at ${url.pathname}: ${html.slice(0, 300)}`);
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
    if (!action) throw new Error(`no form at ${url.pathname}`);
    const body = html.includes('value="login"') ? new URLSearchParams({ prompt: 'login', login, password: 'any' }) : new URLSearchParams({ prompt: 'consent' });
    res = await get(new URL(action, url).href, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
    if (res.status < 300 || res.status >= 400) throw new Error(`form post answered ${res.status}`);
    url = new URL(res.headers.get('location')!, url);
  }
  throw new Error('too many redirects');
}
