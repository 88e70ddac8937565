/**
 * Single sign-on on PostgreSQL (migration 003), with the SQLite engine's rules (../oidc.ts):
 * a sign-in under way is used once and only within ten minutes, at most `maxPending` at a
 * time; a provider's user is found by issuer + subject only, and its first sign-in makes a
 * users row `sso:NAME` (`sso:NAME~2` when that name is taken, any case) with no password.
 *
 * Several instances share one database: `take` is one DELETE ... RETURNING, so two
 * instances handed the same callback cannot both finish it; a first sign-in holds a
 * transaction-level advisory lock while it picks a free name and links the identity, so two
 * first sign-ins at once (the same subject twice, or two subjects with one user name) never
 * collide: the second sees the first's row once the lock is its own.
 */
import { randomBytes } from 'node:crypto';
import type { OidcStore, PendingLogin, SsoLogin } from '../types.js';
import { baseName, PENDING_MAX, PENDING_MS } from '../oidc.js';
import { hashToken, type Role } from '../tokens.js';
import type { Client, PgDb } from './db.js';
import { endPgSessions, openPgSession } from './users.js';

/** The advisory lock of first single sign-ins ('cgsso' as a number; any fixed value would do). */
export const OIDC_LINK_LOCK = 0x6367_7373;

interface Found { user_name: string; disabled_at: number | null }

export function createPgOidcStore(db: PgDb, now: () => number = Date.now, maxPending = PENDING_MAX): OidcStore {
  const identity = async (c: Client, issuer: string, subject: string): Promise<Found | undefined> =>
    (await c.query<Found>('SELECT i.user_name, u.disabled_at FROM oidc_identities i JOIN users u ON u.name = i.user_name WHERE i.issuer = $1 AND i.subject = $2', [issuer, subject])).rows[0];

  async function freeName(c: Client, username: string): Promise<string> {
    const base = baseName(username);
    for (let i = 1; ; i++) {
      const candidate = i === 1 ? base : `${base}~${i}`;
      if ((await c.query('SELECT 1 FROM users WHERE lower(name) = lower($1)', [candidate])).rowCount === 0) return candidate;
    }
  }

  return {
    async begin(p: PendingLogin): Promise<string | null> {
      const id = randomBytes(32).toString('base64url');
      const t = now();
      return db.tx(async (c) => {
        await c.query('DELETE FROM oidc_pending WHERE expires_at < $1', [t]);
        if ((await c.query<{ n: number }>('SELECT count(*) AS n FROM oidc_pending')).rows[0]!.n >= maxPending) return null;
        await c.query('INSERT INTO oidc_pending (id_hash, state, nonce, verifier, next_path, expires_at) VALUES ($1, $2, $3, $4, $5, $6)', [hashToken(id), p.state, p.nonce, p.verifier, p.next, t + PENDING_MS]);
        return id;
      });
    },
    async take(cookieId: string): Promise<PendingLogin | null> {
      const row = (await db.query<{ state: string; nonce: string; verifier: string; next_path: string; expires_at: number }>(
        'DELETE FROM oidc_pending WHERE id_hash = $1 RETURNING state, nonce, verifier, next_path, expires_at', [hashToken(cookieId)],
      )).rows[0];
      if (!row) return null;
      return row.expires_at < now() ? null : { state: row.state, nonce: row.nonce, verifier: row.verifier, next: row.next_path };
    },
    login: (who, role: Role, ip: string): Promise<SsoLogin> => db.tx(async (c): Promise<SsoLogin> => {
      const t = now();
      let found = await identity(c, who.issuer, who.subject);
      if (!found) {
        // First sign-in: one at a time across instances, then look again (another may have just linked it).
        await c.query('SELECT pg_advisory_xact_lock($1)', [OIDC_LINK_LOCK]);
        found = await identity(c, who.issuer, who.subject);
      }
      if (found?.disabled_at != null) return { ok: false, reason: 'disabled', userName: found.user_name };
      let name = found?.user_name;
      if (!name) {
        name = await freeName(c, who.username);
        // No password: '!' is no hash a password can match (store/password.ts decodes it to nothing).
        await c.query('INSERT INTO users (name, role, password_hash, created_at) VALUES ($1, $2, $3, $4)', [name, role, '!sso', t]);
        await c.query('INSERT INTO oidc_identities (issuer, subject, user_name, username, created_at, last_login) VALUES ($1, $2, $3, $4, $5, $5)', [who.issuer, who.subject, name, who.username, t]);
      } else {
        // Role changes at the provider take effect here, at the next sign-in.
        await c.query('UPDATE users SET role = $1 WHERE name = $2', [role, name]);
        await c.query('UPDATE oidc_identities SET username = $1, last_login = $2 WHERE issuer = $3 AND subject = $4', [who.username, t, who.issuer, who.subject]);
      }
      return { ok: true, created: !found, ...await openPgSession(c, { name, role }, ip, t) };
    }),
    refused: (who) => db.tx(async (c) => {
      const found = await identity(c, who.issuer, who.subject);
      if (found) await endPgSessions(c, found.user_name);
      return found?.user_name ?? null;
    }),
  };
}
