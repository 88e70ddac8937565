/**
 * Single sign-on with two server instances on one PostgreSQL database (behind a load
 * balancer both answer the same redirect URL): a sign-in started on instance A finishes on
 * instance B, its session is good on both, the same callback replayed on A is refused (the
 * kept sign-in is taken once across instances), and a user disabled in the store is refused
 * at the next sign-in whichever instance answers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPgStore } from '../../server/store/pg/index.js';
import { freePort, oidcOptions, signInWithFetch, startOidcProvider, type TestProvider } from '../support/oidc-provider.js';
import { pgSkipReason, sharedPostgres } from '../support/postgres.js';
import { startTestServer, type TestServer } from '../support/server.js';

const skip = pgSkipReason();
if (skip) console.warn(skip);

describe.skipIf(skip !== null)('single sign-on on PostgreSQL, two instances', () => {
  let provider: TestProvider;
  let url: string;
  const servers: TestServer[] = [];

  beforeAll(async () => {
    url = await (await sharedPostgres()).newDatabase();
    const ports = [await freePort(), await freePort()];
    provider = await startOidcProvider({
      redirectUris: [`http://127.0.0.1:${ports[0]}/auth/oidc/callback`],
      accounts: { 'sub-bob': { preferred_username: 'bob', groups: ['cg-admins'] } },
    });
    // Both instances are configured with A's redirect URL, as both would be with the load balancer's.
    // `database` is the raw --database text: ServerConfig.parse (in startTestServer) turns it into the engine choice.
    for (const port of ports) servers.push(await startTestServer({ port, ...oidcOptions(provider, ports[0]!), database: url } as unknown as Parameters<typeof startTestServer>[0]));
  }, 60_000);
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
    await provider?.close();
    if (!skip) await (await sharedPostgres()).destroy();
  });

  const toB = (u: URL) => {
    const b = new URL(u);
    b.port = String(servers[1]!.port);
    return b;
  };
  const sessionAt = (s: TestServer, cookie: string) => fetch(`${s.url}/api/session`, { headers: { cookie } });

  it('started on A, finished on B: one session good on both; the callback replayed on A is refused', async () => {
    const r = await signInWithFetch(servers[0]!.url, 'sub-bob', { tamper: toB });
    expect(r.status, r.text).toBe(200);
    const cookie = `cg_session=${r.jar.cookies.get('cg_session')}`;
    for (const s of servers) {
      const res = await sessionAt(s, cookie);
      expect(res.status).toBe(200);
      expect(((await res.json()) as { user: unknown }).user).toEqual({ name: 'sso:bob', role: 'admin' });
    }
    const again = await fetch(r.callbackUrl, { redirect: 'manual', headers: { cookie: r.jar.header() } });
    expect(again.status).toBe(400);
    expect(await again.text()).toContain('sso_failed');
  });

  it('a user disabled in the shared store is refused at the next sign-in on either instance, until enabled', async () => {
    const store = await openPgStore({ url, dataDir: servers[0]!.dataDir });
    try {
      expect(await store.users.disable('sso:bob')).toBe(true);
      expect((await signInWithFetch(servers[0]!.url, 'sub-bob')).status).toBe(403);
      expect((await signInWithFetch(servers[0]!.url, 'sub-bob', { tamper: toB })).status).toBe(403);
      expect(await store.users.enable('sso:bob')).toBe(true);
      expect((await signInWithFetch(servers[0]!.url, 'sub-bob', { tamper: toB })).status).toBe(200);
      expect((await store.users.list()).map((u) => u.name)).toEqual(['sso:bob']);
    } finally {
      await store.close();
    }
  });
});
