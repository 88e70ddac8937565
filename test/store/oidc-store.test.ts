/**
 * Single sign-on in a real store, on every engine (test/store/engines.ts): a sign-in under
 * way is used once and only within ten minutes, and anyone starting sign-ins cannot pile up
 * more than the cap; identities are found by issuer + subject only, so a second subject with
 * the same user name gets a user of its own and no local user is touched; a disabled one
 * stays refused until `user enable`; a refused one's sessions end; the identity goes with
 * its users row.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { PENDING_MS } from '../../server/store/oidc.js';
import type { Store } from '../../server/store/types.js';
import { engines, type EngineOptions, type EngineUnderTest } from './engines.js';

const pending = { state: 's', nonce: 'n', verifier: 'v', next: '/violations' };
const IP = '127.0.0.1';

describe.each(engines)('single sign-on store: $name', (engine: EngineUnderTest) => {
  let store: Store | undefined;
  let t = 1_000_000;
  const advance = (ms: number) => (t += ms);
  const open = async (opts?: EngineOptions) => {
    t = 1_000_000;
    store = await engine.open(() => t, opts);
    return store;
  };
  afterEach(async () => {
    if (!store) return;
    await store.close();
    await engine.dispose(store);
    store = undefined;
  });

  it('a sign-in under way is taken once, and not after ten minutes', async () => {
    const { oidc } = await open();
    const id = (await oidc.begin(pending))!;
    expect(await oidc.take(id)).toEqual(pending);
    expect(await oidc.take(id)).toBeNull();
    const late = (await oidc.begin(pending))!;
    advance(PENDING_MS + 1);
    expect(await oidc.take(late)).toBeNull();
    expect(await oidc.take('made-up')).toBeNull();
  });

  it('two takes of one sign-in at once: exactly one gets it', async () => {
    const { oidc } = await open();
    const id = (await oidc.begin(pending))!;
    const got = await Promise.all([oidc.take(id), oidc.take(id), oidc.take(id)]);
    expect(got.filter((g) => g !== null)).toEqual([pending]);
  });

  it('caps the sign-ins under way; expired ones make room', async () => {
    const { oidc } = await open({ oidcPendingMax: 3 });
    for (let i = 0; i < 3; i++) expect(await oidc.begin(pending)).not.toBeNull();
    expect(await oidc.begin(pending)).toBeNull();
    advance(PENDING_MS + 1);
    expect(await oidc.begin(pending)).not.toBeNull();
  });

  it('keys users by issuer + subject: same name, other subject, other user; a local user is untouched', async () => {
    const { oidc, users } = await open();
    await users.add('alice', 'admin', 'a long local password');
    const a = await oidc.login({ issuer: 'https://idp', subject: '1', username: 'alice' }, 'lead', IP);
    const b = await oidc.login({ issuer: 'https://idp', subject: '2', username: 'alice' }, 'lead', IP);
    const c = await oidc.login({ issuer: 'https://other-idp', subject: '1', username: 'Alice Ng <x>' }, 'admin', IP);
    const again = await oidc.login({ issuer: 'https://idp', subject: '1', username: 'alice.renamed' }, 'admin', IP);
    expect([a, b, c, again].map((r) => (r.ok ? r.user.name : r.reason))).toEqual(['sso:alice', 'sso:alice~2', 'sso:Alice-Ng-x', 'sso:alice']);
    expect([a, b, c, again].map((r) => r.ok && r.created)).toEqual([true, true, true, false]);
    expect(again.ok && again.user.role).toBe('admin');
    expect(await users.get('alice')).toMatchObject({ role: 'admin', disabled_at: null });
    expect(await users.get('sso:alice')).toMatchObject({ role: 'admin', disabled_at: null });
    await expect(users.reset('sso:alice', 'a long new password')).rejects.toThrow(/single sign-on/);
    await expect(users.add('sso:mallory', 'admin', 'a long new password')).rejects.toThrow(/single sign-on/);
    // No password opens an sso: user's account.
    expect((await users.login('sso:alice', '!sso', IP)).ok).toBe(false);
    expect(await users.disable('sso:alice')).toBe(true);
    expect(await oidc.login({ issuer: 'https://idp', subject: '1', username: 'alice' }, 'admin', IP)).toEqual({ ok: false, reason: 'disabled', userName: 'sso:alice' });
    expect(await users.enable('sso:alice')).toBe(true);
    expect(await users.enable('sso:alice')).toBe(false);
    expect(await users.enable('nobody')).toBe(false);
    expect((await oidc.login({ issuer: 'https://idp', subject: '1', username: 'alice' }, 'lead', IP)).ok).toBe(true);
  });

  it('a session opened by single sign-on is a session like a password one; refusing the user ends it', async () => {
    const { oidc, users } = await open();
    const who = { issuer: 'https://idp', subject: 's-9', username: 'dana' };
    const r = await oidc.login(who, 'lead', IP);
    if (!r.ok) throw new Error('expected a session');
    expect(await users.session(r.sessionId)).toMatchObject({ name: 'sso:dana', role: 'lead', csrfToken: r.user.csrfToken });
    expect(await users.sessionLive(r.user.sessionKey)).toBe(true);
    expect(await oidc.refused(who)).toBe('sso:dana');
    expect(await users.session(r.sessionId)).toBeUndefined();
    expect(await oidc.refused({ issuer: 'https://idp', subject: 'never-seen' })).toBeNull();
  });

  it('first sign-ins at once (one subject twice, two subjects of one name) never collide', async () => {
    const { oidc, users } = await open();
    const results = await Promise.all([
      oidc.login({ issuer: 'https://idp', subject: 'x1', username: 'eve' }, 'lead', IP),
      oidc.login({ issuer: 'https://idp', subject: 'x1', username: 'eve' }, 'lead', IP),
      oidc.login({ issuer: 'https://idp', subject: 'x2', username: 'eve' }, 'lead', IP),
    ]);
    expect(results.every((r) => r.ok)).toBe(true);
    expect(results.map((r) => r.ok && r.user.name).sort()).toEqual(['sso:eve', 'sso:eve', 'sso:eve~2']);
    expect((await users.list()).map((u) => u.name).sort()).toEqual(['sso:eve', 'sso:eve~2']);
  });
});
