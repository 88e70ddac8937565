/**
 * Single sign-on in a real SQLite store: a sign-in under way is used once and only within
 * ten minutes, and anyone starting sign-ins cannot pile up more than the cap; identities
 * are found by issuer + subject only, so a second subject with the same user name gets a
 * user of its own and no local user is touched.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDb, prepareDataDir } from '../../server/store/db.js';
import { createOidcStore, PENDING_MS } from '../../server/store/oidc.js';
import { createUserStore } from '../../server/store/users.js';
import { tempDir } from '../support/server.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

function open(maxPending?: number) {
  const dir = tempDir('cg-oidc-store-');
  dirs.push(dir);
  prepareDataDir(dir);
  const db = openDb(join(dir, 'consultguard.db'));
  let t = 1_000_000;
  const clock = { now: () => t, advance: (ms: number) => (t += ms) };
  const users = createUserStore(db, clock.now);
  return { db, users, oidc: createOidcStore(db, users, clock.now, maxPending), clock };
}

const pending = { state: 's', nonce: 'n', verifier: 'v', next: '/violations' };

describe('single sign-on store', () => {
  it('a sign-in under way is taken once, and not after ten minutes', () => {
    const { oidc, clock } = open();
    const id = oidc.begin(pending)!;
    expect(oidc.take(id)).toEqual(pending);
    expect(oidc.take(id)).toBeNull();
    const late = oidc.begin(pending)!;
    clock.advance(PENDING_MS + 1);
    expect(oidc.take(late)).toBeNull();
    expect(oidc.take('made-up')).toBeNull();
  });

  it('caps the sign-ins under way; expired ones make room', () => {
    const { oidc, clock } = open(3);
    for (let i = 0; i < 3; i++) expect(oidc.begin(pending)).not.toBeNull();
    expect(oidc.begin(pending)).toBeNull();
    clock.advance(PENDING_MS + 1);
    expect(oidc.begin(pending)).not.toBeNull();
  });

  it('keys users by issuer + subject: same name, other subject, other user; a local user is untouched', () => {
    const { oidc, users } = open();
    users.add('alice', 'admin', 'a long local password');
    const a = oidc.login({ issuer: 'https://idp', subject: '1', username: 'alice' }, 'lead', '127.0.0.1');
    const b = oidc.login({ issuer: 'https://idp', subject: '2', username: 'alice' }, 'lead', '127.0.0.1');
    const c = oidc.login({ issuer: 'https://other-idp', subject: '1', username: 'Alice Ng <x>' }, 'admin', '127.0.0.1');
    const again = oidc.login({ issuer: 'https://idp', subject: '1', username: 'alice.renamed' }, 'admin', '127.0.0.1');
    expect([a, b, c, again].map((r) => (r.ok ? r.user.name : r.reason))).toEqual(['sso:alice', 'sso:alice~2', 'sso:Alice-Ng-x', 'sso:alice']);
    expect(again.ok && again.user.role).toBe('admin');
    expect(users.get('alice')).toMatchObject({ role: 'admin', disabled_at: null });
    expect(() => users.reset('sso:alice', 'a long new password')).toThrow(/single sign-on/);
    expect(users.disable('sso:alice')).toBe(true);
    expect(oidc.login({ issuer: 'https://idp', subject: '1', username: 'alice' }, 'admin', '127.0.0.1')).toEqual({ ok: false, reason: 'disabled', userName: 'sso:alice' });
  });
});
