/**
 * Single sign-on in the store (migration 013): sign-ins under way, and the link from a
 * provider's user (issuer + subject) to its own users row. The linking rule (README
 * "Single sign-on"): a provider user is found by issuer + subject only, never by name; its
 * first sign-in makes a users row `sso:` + preferred_username (`sso:alice~2` when another
 * subject holds that name already), so no local account is ever taken over. Its role is set
 * from the provider's groups at every sign-in; a user disabled here stays refused.
 */
import { randomBytes } from 'node:crypto';
import type { Db } from './db.js';
import { hashToken, type Role } from './tokens.js';
import { SSO_PREFIX, type SessionUser, type UserStore } from './users.js';

/** How long a browser has to come back from the provider. */
export const PENDING_MS = 10 * 60_000;
/** Sign-ins under way at once, at most: anyone may start one, so a flood of starts must not fill the disk. */
export const PENDING_MAX = 10_000;

export interface PendingLogin {
  state: string;
  nonce: string;
  verifier: string;
  next: string;
}

export interface SsoIdentity {
  issuer: string;
  subject: string;
  /** preferred_username (or whatever the provider offers in its place); shown, not trusted as a key. */
  username: string;
}

export type SsoLogin =
  | { ok: true; sessionId: string; user: SessionUser; created: boolean }
  | { ok: false; reason: 'disabled'; userName: string };

/** A users-row name from a provider's user name: the characters a local name allows, under the prefix. */
export function baseName(username: string): string {
  const clean = username.normalize('NFKC').replace(/[^A-Za-z0-9._@-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 56);
  return `${SSO_PREFIX}${clean || 'user'}`;
}

export function createOidcStore(db: Db, users: UserStore, now: () => number = Date.now, maxPending = PENDING_MAX) {
  const identity = db.prepare<[string, string], { user_name: string; disabled_at: number | null }>(
    'SELECT i.user_name, u.disabled_at FROM oidc_identities i JOIN users u ON u.name = i.user_name WHERE i.issuer = ? AND i.subject = ?',
  );
  const nameTaken = db.prepare<[string], { one: number }>('SELECT 1 AS one FROM users WHERE name = ?');

  function freeName(username: string): string {
    const base = baseName(username);
    for (let i = 1; ; i++) {
      const candidate = i === 1 ? base : `${base}~${i}`;
      if (!nameTaken.get(candidate)) return candidate;
    }
  }

  return {
    /** Remembers a sign-in under way; returns the browser cookie's value that finds it again, or null when too many are under way. */
    begin(p: PendingLogin): string | null {
      const id = randomBytes(32).toString('base64url');
      const t = now();
      return db.transaction(() => {
        db.prepare('DELETE FROM oidc_pending WHERE expires_at < ?').run(t);
        if (db.prepare<[], { n: number }>('SELECT count(*) AS n FROM oidc_pending').get()!.n >= maxPending) return null;
        db.prepare('INSERT INTO oidc_pending (id_hash, state, nonce, verifier, next_path, expires_at) VALUES (?, ?, ?, ?, ?, ?)')
          .run(hashToken(id), p.state, p.nonce, p.verifier, p.next, t + PENDING_MS);
        return id;
      })();
    },
    /** The sign-in behind a cookie, taken (used once); null when unknown or older than ten minutes. */
    take(cookieId: string): PendingLogin | null {
      // One statement: two connections on the file (a second instance) cannot both take it.
      const row = db.prepare<[string], { state: string; nonce: string; verifier: string; next_path: string; expires_at: number }>('DELETE FROM oidc_pending WHERE id_hash = ? RETURNING *').get(hashToken(cookieId));
      if (!row) return null;
      return row.expires_at < now() ? null : { state: row.state, nonce: row.nonce, verifier: row.verifier, next: row.next_path };
    },
    /** Signs a provider's user in with `role`: finds or makes its users row, then opens a session like a password login. */
    login(who: SsoIdentity, role: Role, ip: string): SsoLogin {
      return db.transaction((): SsoLogin => {
        const t = now();
        const found = identity.get(who.issuer, who.subject);
        if (found?.disabled_at != null) return { ok: false, reason: 'disabled', userName: found.user_name };
        let name = found?.user_name;
        if (!name) {
          name = freeName(who.username);
          // No password: '!' is no hash a password can match (store/password.ts decodes it to nothing).
          db.prepare('INSERT INTO users (name, role, password_hash, created_at) VALUES (?, ?, ?, ?)').run(name, role, '!sso', t);
          db.prepare('INSERT INTO oidc_identities (issuer, subject, user_name, username, created_at, last_login) VALUES (?, ?, ?, ?, ?, ?)').run(who.issuer, who.subject, name, who.username, t, t);
        } else {
          // Role changes at the provider take effect here, at the next sign-in.
          db.prepare('UPDATE users SET role = ? WHERE name = ?').run(role, name);
          db.prepare('UPDATE oidc_identities SET username = ?, last_login = ? WHERE issuer = ? AND subject = ?').run(who.username, t, who.issuer, who.subject);
        }
        return { ok: true, created: !found, ...users.openSession({ name, role }, ip) };
      }).immediate(); // reads, then writes: see violations.ts ingest
    },
    /** A provider's user who no longer holds a mapped group: its open sessions end too. */
    refused(who: Pick<SsoIdentity, 'issuer' | 'subject'>): string | null {
      const found = identity.get(who.issuer, who.subject);
      if (found) users.endSessions(found.user_name);
      return found?.user_name ?? null;
    },
  };
}

export type OidcStore = ReturnType<typeof createOidcStore>;
