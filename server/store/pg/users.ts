/**
 * Dashboard users, sessions and login limits on PostgreSQL, with the SQLite engine's rules
 * (users.ts: the limits, the in-flight counting, session idle and absolute lifetimes).
 * SQLite's COLLATE NOCASE on names is lower() on both sides here (and unique on lower(name)).
 * The in-flight counts are per instance: behind a load balancer each instance adds its own
 * attempts in progress to the failures every instance has committed. Single sign-on users
 * (`sso:NAME`, pg/oidc.ts) have no password here and open their sessions with `openPgSession`.
 */
import { randomBytes } from 'node:crypto';
import { createPasswordHasher, type PasswordHasher } from '../password.js';
import { hashToken, type Role } from '../tokens.js';
import { isSsoName, LOCKOUT, noPassword, SESSION, type LoginLimits, type LoginRefusal, type LoginResult, type SessionUser, type UserRow } from '../users.js';
import type { UserStore } from '../types.js';
import type { Client, PgDb } from './db.js';

interface Count { n: number; first: number | null }

/** Ends every session of a user (any case of the name), on `c` (the caller's transaction). */
export const endPgSessions = (c: Client, name: string) => c.query('DELETE FROM sessions WHERE user_name IN (SELECT name FROM users WHERE lower(name) = lower($1))', [name]);

/**
 * A session for `user` (its stored name) on `c`, inside the caller's transaction: the same
 * cookie, lifetime and ending for a password login and a single sign-on (pg/oidc.ts).
 */
export async function openPgSession(c: Client, user: { name: string; role: Role }, ip: string, t: number): Promise<{ sessionId: string; user: SessionUser }> {
  const sessionId = randomBytes(32).toString('base64url');
  const csrfToken = randomBytes(24).toString('base64url');
  await c.query('DELETE FROM sessions WHERE expires_at < $1', [t]);
  await c.query('INSERT INTO login_known (user_name, ip, last_ok) VALUES ($1, $2, $3) ON CONFLICT ((lower(user_name)), ip) DO UPDATE SET last_ok = excluded.last_ok', [user.name, ip, t]);
  await c.query('INSERT INTO sessions (id_hash, user_name, csrf_token, created_at, last_seen, expires_at) VALUES ($1, $2, $3, $4, $4, $5)', [hashToken(sessionId), user.name, csrfToken, t, t + SESSION.maxMs]);
  return { sessionId, user: { name: user.name, role: user.role, csrfToken, sessionKey: hashToken(sessionId) } };
}

export function createPgUserStore(db: PgDb, now: () => number = Date.now, opts: { hasher?: PasswordHasher; limits?: LoginLimits } = {}): UserStore {
  const hasher = opts.hasher ?? createPasswordHasher();
  const limits = opts.limits ?? LOCKOUT;
  const getUser = async (name: string) => (await db.query<UserRow & { password_hash: string }>('SELECT * FROM users WHERE lower(name) = lower($1)', [name])).rows[0];
  const endSessions = endPgSessions;
  const inFlight = new Map<string, number>();
  const bump = (key: string, by: number) => {
    const n = (inFlight.get(key) ?? 0) + by;
    if (n > 0) inFlight.set(key, n);
    else inFlight.delete(key);
  };

  async function refusal(t: number, ip: string, name: string): Promise<LoginRefusal | null> {
    const since = t - limits.windowMs;
    const after = (first: number | null) => Math.max(1, Math.ceil(((first ?? t) + limits.windowMs - t) / 1000));
    const lower = name.toLowerCase();
    const { rows: [r] } = await db.query<{ pair: Count; addr: Count; user: Count; known: boolean }>(
      `SELECT
         (SELECT json_build_object('n', count(*), 'first', min(at)) FROM login_failures WHERE lower(user_name) = $1 AND ip = $2 AND at > $3) AS pair,
         (SELECT json_build_object('n', count(*), 'first', min(at)) FROM login_failures WHERE ip = $2 AND at > $3) AS addr,
         (SELECT json_build_object('n', count(*), 'first', min(at)) FROM login_failures WHERE lower(user_name) = $1 AND at > $3) AS user,
         EXISTS (SELECT 1 FROM login_known WHERE lower(user_name) = $1 AND ip = $2 AND last_ok > $4) AS known`,
      [lower, ip, since, t - limits.knownMs],
    );
    const { pair, addr, user, known } = r!;
    if (pair.n + (inFlight.get(`u:${lower}|${ip}`) ?? 0) >= limits.perAddressUser) return { ok: false, reason: 'locked', retryAfterSec: after(pair.first) };
    if (addr.n + (inFlight.get(`a:${ip}`) ?? 0) >= limits.perAddress) return { ok: false, reason: 'address-limited', retryAfterSec: after(addr.first) };
    if (user.n >= limits.perUser && !known) return { ok: false, reason: 'user-limited', retryAfterSec: after(user.first) };
    return null;
  }

  async function bySessionKey(key: string, slide: boolean): Promise<SessionUser | undefined> {
    const t = now();
    // Every dashboard request asks this: a prepared statement (pg/db.ts preparedQuery).
    const s = (await db.prepared<{ user_name: string; csrf_token: string; last_seen: number; expires_at: number; role: Role; disabled_at: number | null }>(
      'SELECT s.user_name, s.csrf_token, s.last_seen, s.expires_at, u.role, u.disabled_at FROM sessions s JOIN users u ON u.name = s.user_name WHERE s.id_hash = $1', [key],
    )).rows[0];
    if (!s || s.disabled_at !== null || s.expires_at < t || t - s.last_seen > SESSION.idleMs) return undefined;
    if (slide && t - s.last_seen > 60_000) await db.query('UPDATE sessions SET last_seen = $1 WHERE id_hash = $2', [t, key]);
    return { name: s.user_name, role: s.role, csrfToken: s.csrf_token, sessionKey: key };
  }

  const setHash = (name: string, role: Role, hash: string): Promise<void> => db.tx(async (c) => {
    await c.query(
      `INSERT INTO users (name, role, password_hash, created_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT ((lower(name))) DO UPDATE SET role = excluded.role, password_hash = excluded.password_hash, disabled_at = NULL`,
      [name, role, hash, now()],
    );
    await endSessions(c, name); // a new password ends every session opened with the old one
  });

  const resetHash = (name: string, hash: string): Promise<boolean> => db.tx(async (c) => {
    if ((await c.query('UPDATE users SET password_hash = $1 WHERE lower(name) = lower($2)', [hash, name])).rowCount === 0) return false;
    await endSessions(c, name);
    await c.query('DELETE FROM login_failures WHERE lower(user_name) = lower($1)', [name]);
    return true;
  });

  return {
    kdfStats: () => hasher.stats(),
    add: async (name: string, role: Role, password: string): Promise<void> => {
      if (isSsoName(name)) throw noPassword(name);
      return setHash(name, role, await hasher.hash(password));
    },
    reset: async (name: string, password: string): Promise<boolean> => {
      if (isSsoName(name)) throw noPassword(name);
      return resetHash(name, await hasher.hash(password));
    },
    disable: (name: string): Promise<boolean> => db.tx(async (c) => {
      if ((await c.query('UPDATE users SET disabled_at = $1 WHERE lower(name) = lower($2) AND disabled_at IS NULL', [now(), name])).rowCount === 0) return false;
      await endSessions(c, name);
      return true;
    }),
    enable: async (name: string): Promise<boolean> => ((await db.query('UPDATE users SET disabled_at = NULL WHERE lower(name) = lower($1) AND disabled_at IS NOT NULL', [name])).rowCount ?? 0) > 0,
    exists: async (name: string): Promise<boolean> => (await getUser(name)) !== undefined,
    async get(name: string): Promise<UserRow | undefined> {
      const u = await getUser(name);
      return u ? { name: u.name, role: u.role, created_at: u.created_at, disabled_at: u.disabled_at } : undefined;
    },
    list: async (): Promise<UserRow[]> => (await db.query<UserRow>('SELECT name, role, created_at, disabled_at FROM users ORDER BY name')).rows,
    /** Checks the limits, then the password (off the event loop). May throw KdfBusy. */
    async login(name: string, password: string, ip: string): Promise<LoginResult> {
      const t = now();
      const limited = await refusal(t, ip, name);
      if (limited) return limited;
      const user = await getUser(name);
      const keys = [`u:${name.toLowerCase()}|${ip}`, `a:${ip}`];
      for (const k of keys) bump(k, 1);
      let good: boolean;
      try {
        good = (await hasher.verify(password, user?.password_hash ?? null)) && user !== undefined && user.disabled_at === null;
      } finally {
        for (const k of keys) bump(k, -1);
      }
      const t2 = now();
      if (!good || !user) {
        await db.query('INSERT INTO login_failures (user_name, ip, at) VALUES ($1, $2, $3)', [name.toLowerCase(), ip, t2]);
        return { ok: false, reason: 'wrong', retryAfterSec: 0 };
      }
      return { ok: true, ...await db.tx(async (c) => {
        await c.query('DELETE FROM login_failures WHERE lower(user_name) = $1 AND ip = $2', [name.toLowerCase(), ip]);
        await c.query('DELETE FROM login_failures WHERE at < $1', [t2 - limits.windowMs]);
        return openPgSession(c, user, ip, t2);
      }) };
    },
    session: (sessionId: string): Promise<SessionUser | undefined> => bySessionKey(hashToken(sessionId), true),
    sessionLive: async (sessionKey: string): Promise<boolean> => (await bySessionKey(sessionKey, false)) !== undefined,
    logout: async (sessionId: string): Promise<void> => void (await db.query('DELETE FROM sessions WHERE id_hash = $1', [hashToken(sessionId)])),
  };
}
