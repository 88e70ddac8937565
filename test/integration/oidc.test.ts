/**
 * Single sign-on against a real OpenID provider (oidc-provider on a loopback port, started
 * here) and a real server with a real SQLite file: the full authorization code flow with
 * PKCE through the provider's login and consent pages, over plain HTTP (the Chromium run is
 * test/e2e/oidc.test.ts). Wrong state, no group and a disabled user are refused with a page;
 * the lead group gets lead (403 on admin routes), the admin group admin; a role change at
 * the provider counts at the next sign-in; a local user of the same name is not taken over,
 * and local sign-in still works beside it.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../shared/log.js';
import { createStore } from '../../server/store/index.js';
import { runCli } from '../support/processes.js';
import { freePort, oidcOptions, signInWithFetch, startOidcProvider, type TestProvider } from '../support/oidc-provider.js';
import { startTestServer, tempDir, type TestServer } from '../support/server.js';

const LOCAL = { name: 'alice', password: 'a local break-glass password' };

let provider: TestProvider;
let server: TestServer;
let dataDir: string;
const logLines: string[] = [];

beforeAll(async () => {
  const port = await freePort();
  provider = await startOidcProvider({
    redirectUris: [`http://127.0.0.1:${port}/auth/oidc/callback`],
    accounts: {
      'sub-alice': { preferred_username: 'alice', groups: ['cg-leads', 'everyone'] },
      'sub-bob': { preferred_username: 'bob', groups: ['cg-admins'] },
      'sub-carol': { preferred_username: 'carol', groups: ['everyone'] },
      'sub-dave': { preferred_username: 'dave', groups: ['cg-leads'] },
      'sub-erin': { preferred_username: 'erin' },
    },
  });
  dataDir = tempDir('cg-oidc-');
  const store = createStore(dataDir);
  await store.users.add(LOCAL.name, 'admin', LOCAL.password);
  await store.close();
  // Every server log line, at the most talkative level, to check that no token or secret is in one.
  const log = createLogger({ name: 'oidc-test', level: 'trace', destination: { write: (line: string) => void logLines.push(line) } });
  server = await startTestServer({ dataDir, port, keepData: false, log, ...oidcOptions(provider, port) });
}, 30_000);
afterAll(async () => {
  await server?.close();
  await provider?.close();
});

const session = (cookie: string) => fetch(`${server.url}/api/session`, { headers: { cookie } });
const cookieOf = (r: { jar: { cookies: Map<string, string> } }) => `cg_session=${r.jar.cookies.get('cg_session')}`;
const audit = async () => ((await server.fetchJson('/api/audit?limit=100', adminToken)).body as { items: Array<{ actor: string; action: string; detail: Record<string, unknown> }> }).items;
let adminToken: string;

describe('single sign-on (OpenID Connect)', () => {
  beforeAll(async () => {
    const store = createStore(dataDir);
    adminToken = (await store.apiTokens.create('admin', 'oidc-test')).token;
    await store.close();
  });

  it('the sign-in page is told the provider: GET /api/session/options', async () => {
    expect((await server.fetchJson('/api/session/options', null)).body).toEqual({ password: true, sso: { name: 'Test IdP', loginUrl: '/auth/oidc/login' } });
  });

  it('the login start sends the browser to the provider with PKCE, state and nonce, and a short-lived Lax state cookie', async () => {
    const res = await fetch(`${server.url}/auth/oidc/login`, { redirect: 'manual' });
    expect(res.status).toBe(302);
    const to = new URL(res.headers.get('location')!);
    expect(to.origin).toBe(provider.issuer);
    expect(to.searchParams.get('redirect_uri')).toBe(`${server.url}/auth/oidc/callback`);
    expect(to.searchParams.get('code_challenge_method')).toBe('S256');
    for (const p of ['state', 'nonce', 'code_challenge']) expect(to.searchParams.get(p)?.length ?? 0).toBeGreaterThanOrEqual(32);
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith('cg_oidc='))!;
    expect(cookie).toMatch(/; Path=\/auth\/oidc; HttpOnly; SameSite=Lax; Max-Age=600/);
  });

  it('the lead group signs in as lead: the same session cookie as a password login, 403 on admin routes, audited with the subject', async () => {
    const r = await signInWithFetch(server.url, 'sub-dave', { next: '/fleet' });
    expect(r.status, r.text).toBe(200);
    expect(r.text).toContain('url=/fleet');
    expect(r.jar.cookies.has('cg_oidc'), 'the state cookie is cleared').toBe(false);
    const me = await session(cookieOf(r));
    expect(me.status).toBe(200);
    expect(((await me.json()) as { user: unknown }).user).toEqual({ name: 'sso:dave', role: 'lead' });
    expect((await fetch(`${server.url}/api/violations`, { headers: { cookie: cookieOf(r) } })).status).toBe(200);
    const admin = await fetch(`${server.url}/api/users`, { headers: { cookie: cookieOf(r) } });
    expect(admin.status).toBe(403);
    const entry = (await audit()).find((e) => e.actor === 'sso:dave' && e.action === 'login')!;
    expect(entry.detail).toMatchObject({ via: 'oidc', subject: 'sub-dave', issuer: provider.issuer, role: 'lead' });
    // Logout ends it like any session.
    const csrf = ((await (await session(cookieOf(r))).json()) as { csrfToken: string }).csrfToken;
    expect((await fetch(`${server.url}/api/session`, { method: 'DELETE', headers: { cookie: cookieOf(r), 'x-csrf-token': csrf } })).status).toBe(204);
    expect((await session(cookieOf(r))).status).toBe(401);
  });

  it('the admin group signs in as admin', async () => {
    const r = await signInWithFetch(server.url, 'sub-bob');
    expect(r.status, r.text).toBe(200);
    expect(r.text).toContain('url=/violations');
    expect((await fetch(`${server.url}/api/users`, { headers: { cookie: cookieOf(r) } })).status).toBe(200);
  });

  it('a user in no mapped group is refused with a page that says what to do (no session, audited)', async () => {
    for (const who of ['sub-carol', 'sub-erin']) {
      const r = await signInWithFetch(server.url, who);
      expect(r.status).toBe(403);
      expect(r.text).toMatch(/in none of the groups that may use ConsultGuard/);
      expect(r.text).toContain('sso_refused');
      expect(r.text).not.toMatch(/Error:|at \S+:\d+/);
      expect(r.jar.cookies.has('cg_session')).toBe(false);
    }
    expect((await audit()).filter((e) => e.action === 'login-refused' && e.detail.reason === 'no-mapped-group').map((e) => e.detail.subject).sort()).toEqual(['sub-carol', 'sub-erin']);
  });

  it('a wrong state is refused, and so is a callback without the state cookie', async () => {
    const r = await signInWithFetch(server.url, 'sub-bob', { tamper: (u) => (u.searchParams.set('state', 'not-the-state-we-sent'), u) });
    expect(r.status).toBe(400);
    expect(r.text).toContain('sso_failed');
    expect(r.jar.cookies.has('cg_session')).toBe(false);
    // The untouched callback URL is spent too: its state cookie is gone and the stored state taken.
    const again = await fetch(r.callbackUrl, { redirect: 'manual' });
    expect(again.status).toBe(400);
    expect(await again.text()).toMatch(/not started in this browser/);
  });

  it('a nonce or PKCE verifier other than the one sent is refused (the library checks the ID token and the code exchange)', async () => {
    // Between the start and the callback, the kept sign-in is changed in the store itself.
    const changeKept = (column: 'nonce' | 'verifier') => (u: URL) => {
      const db = new Database(join(dataDir, 'consultguard.db'));
      try {
        expect(db.prepare(`UPDATE oidc_pending SET ${column} = ?`).run(column === 'nonce' ? 'another-nonce' : 'x'.repeat(43)).changes).toBeGreaterThan(0);
      } finally {
        db.close();
      }
      return u;
    };
    for (const column of ['nonce', 'verifier'] as const) {
      const r = await signInWithFetch(server.url, 'sub-bob', { tamper: changeKept(column) });
      expect(r.status, column).toBe(400);
      expect(r.text).toContain('sso_failed');
      expect(r.jar.cookies.has('cg_session')).toBe(false);
    }
  });

  it('a local user of the same name is not taken over, and local sign-in still works', async () => {
    const r = await signInWithFetch(server.url, 'sub-alice');
    expect(r.status, r.text).toBe(200);
    expect(((await (await session(cookieOf(r))).json()) as { user: unknown }).user).toEqual({ name: 'sso:alice', role: 'lead' });
    const local = await fetch(`${server.url}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: LOCAL.name, password: LOCAL.password }) });
    expect(local.status).toBe(200);
    expect(((await local.json()) as { user: unknown }).user).toEqual({ name: 'alice', role: 'admin' });
    // No password opens the single sign-on user, and none can be set on it.
    const guess = await fetch(`${server.url}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'sso:alice', password: '!sso' }) });
    expect(guess.status).toBe(401);
    const reset = await fetch(`${server.url}/api/users/sso:alice/reset`, { method: 'POST', headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ password: 'a long enough password' }) });
    expect(reset.status).toBe(400);
  });

  it('a role change at the provider takes effect at the next sign-in; losing every group ends the open sessions', async () => {
    provider.accounts['sub-dave']!.groups = ['cg-admins'];
    const first = await signInWithFetch(server.url, 'sub-dave');
    expect(((await (await session(cookieOf(first))).json()) as { user: unknown }).user).toEqual({ name: 'sso:dave', role: 'admin' });
    provider.accounts['sub-dave']!.groups = [];
    const second = await signInWithFetch(server.url, 'sub-dave');
    expect(second.status).toBe(403);
    expect((await session(cookieOf(first))).status, 'the admin session opened before ends').toBe(401);
    provider.accounts['sub-dave']!.groups = ['cg-leads'];
  });

  it('a user disabled here stays refused, whatever the provider says, until enabled', async () => {
    const open = await signInWithFetch(server.url, 'sub-bob');
    expect(open.status).toBe(200);
    const dis = await fetch(`${server.url}/api/users/sso:bob/disable`, { method: 'POST', headers: { authorization: `Bearer ${adminToken}` } });
    expect(dis.status).toBe(200);
    expect((await session(cookieOf(open))).status).toBe(401);
    const r = await signInWithFetch(server.url, 'sub-bob');
    expect(r.status).toBe(403);
    expect(r.text).toMatch(/sso:bob\) is disabled/);
    expect((await audit()).some((e) => e.actor === 'sso:bob' && e.action === 'login-refused' && e.detail.reason === 'disabled')).toBe(true);
    // The CLI takes the sso: name too; enabled again, the provider's word counts again.
    const en = await runCli('server', ['user', 'enable', 'sso:bob', '--data', dataDir]);
    expect(en.code, en.stderr).toBe(0);
    expect((await signInWithFetch(server.url, 'sub-bob')).status).toBe(200);
    const dis2 = await runCli('server', ['user', 'disable', 'sso:bob', '--data', dataDir]);
    expect(dis2.code, dis2.stderr).toBe(0);
    expect((await signInWithFetch(server.url, 'sub-bob')).status).toBe(403);
  });

  it('nothing from the provider is kept but the link: no token in the store, the audit or the log', async () => {
    expect(logLines.some((l) => l.includes('single sign-on answer refused')), 'the refused answers were logged').toBe(true);
    for (const line of logLines) {
      expect(line).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\./);
      expect(line).not.toContain(provider.clientSecret);
    }
    const store = createStore(dataDir);
    try {
      const rows = store.db.prepare('SELECT issuer, subject, user_name, username FROM oidc_identities ORDER BY user_name').all();
      expect(rows).toEqual(expect.arrayContaining([{ issuer: provider.issuer, subject: 'sub-alice', user_name: 'sso:alice', username: 'alice' }]));
      const dump = JSON.stringify(store.db.prepare('SELECT * FROM audit').all()) + JSON.stringify(store.db.prepare('SELECT * FROM oidc_pending').all());
      expect(dump).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\./); // no JWT anywhere
    } finally {
      await store.close();
    }
  });
});
