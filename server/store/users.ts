/**
 * Dashboard users and sessions. Passwords are scrypt hashes (see password.ts; checked off
 * the event loop, a few at a time). Sessions are random ids stored only as hashes, with an
 * idle timeout and an absolute lifetime; a password reset or disabling a user ends them.
 *
 * Login limits, all over a 15-minute window:
 * - 5 failures for one user name from one client address lock that address out of that
 *   name (strangers guessing a name do not lock its owner out from the owner's address);
 * - 20 failures from one address, whatever the names, stop that address (a sweep of
 *   made-up names costs the attacker, not the server);
 * - 100 failures for one name from anywhere stop further tries at that name, except from
 *   addresses the user signed in from in the last 30 days (a distributed guess at one name
 *   is bounded, and still cannot lock out the owner's usual workstation).
 * Behind a reverse proxy every request comes from the proxy's address, so the limits act
 * per user name only; that is the safe side.
 */
import { randomBytes } from 'node:crypto';
import { AppError } from '../../shared/errors.js';
import type { Db } from './db.js';
import { createPasswordHasher, hashPasswordSync, type PasswordHasher } from './password.js';
import { hashToken } from './tokens.js';
import type { Role } from './tokens.js';

export const LOCKOUT = { perAddressUser: 5, perAddress: 20, perUser: 100, windowMs: 15 * 60_000, knownMs: 30 * 86_400_000 };
export type LoginLimits = typeof LOCKOUT;
export const SESSION = { idleMs: 30 * 60_000, maxMs: 12 * 3600_000 };

/**
 * Single sign-on users' names start so (store/oidc.ts): ':' is not allowed in a local name,
 * so the two never meet, and no password can be set on such a user.
 */
export const SSO_PREFIX = 'sso:';
export const isSsoName = (name: string): boolean => name.toLowerCase().startsWith(SSO_PREFIX);
export const noPassword = (name: string): AppError => new AppError('bad_request', `${name} signs in through single sign-on and has no password here; change it at the identity provider (user disable still refuses it)`);

export interface SessionUser {
  name: string;
  role: Role;
  csrfToken: string;
  /** Hash of the session id: names the session (for ending its live streams) without being it. */
  sessionKey: string;
}

export interface UserRow {
  name: string;
  role: Role;
  created_at: number;
  disabled_at: number | null;
}

export type LoginRefusal = { ok: false; reason: 'wrong' | 'locked' | 'address-limited' | 'user-limited'; retryAfterSec: number };
export type LoginResult = { ok: true; sessionId: string; user: SessionUser } | LoginRefusal;

export function createUserStore(db: Db, now: () => number = Date.now, opts: { hasher?: PasswordHasher; limits?: LoginLimits } = {}) {
  const hasher = opts.hasher ?? createPasswordHasher();
  const limits = opts.limits ?? LOCKOUT;
  const getUser = db.prepare<[string], UserRow & { password_hash: string }>('SELECT * FROM users WHERE name = ?');
  const failuresFor = db.prepare<[string, string, number], { n: number; first: number | null }>('SELECT count(*) AS n, min(at) AS first FROM login_failures WHERE user_name = ? AND ip = ? AND at > ?');
  const failuresFrom = db.prepare<[string, number], { n: number; first: number | null }>('SELECT count(*) AS n, min(at) AS first FROM login_failures WHERE ip = ? AND at > ?');
  const failuresOf = db.prepare<[string, number], { n: number; first: number | null }>('SELECT count(*) AS n, min(at) AS first FROM login_failures WHERE user_name = ? AND at > ?');
  const known = db.prepare<[string, string, number], { one: number }>('SELECT 1 AS one FROM login_known WHERE user_name = ? AND ip = ? AND last_ok > ?');
  const getSession = db.prepare<[string], { user_name: string; csrf_token: string; last_seen: number; expires_at: number; role: Role; disabled_at: number | null }>(
    'SELECT s.user_name, s.csrf_token, s.last_seen, s.expires_at, u.role, u.disabled_at FROM sessions s JOIN users u ON u.name = s.user_name WHERE s.id_hash = ?',
  );
  // By the stored spelling: user names match case-insensitively, session rows byte for byte.
  const endSessions = db.prepare('DELETE FROM sessions WHERE user_name IN (SELECT name FROM users WHERE name = ?)');
  // Attempts being checked right now count as failures until they finish: twelve parallel
  // guesses must not all pass a check made before any of them failed.
  const inFlight = new Map<string, number>();
  const bump = (key: string, by: number) => {
    const n = (inFlight.get(key) ?? 0) + by;
    if (n > 0) inFlight.set(key, n);
    else inFlight.delete(key);
  };

  function refusal(t: number, ip: string, name: string): LoginRefusal | null {
    const since = t - limits.windowMs;
    const after = (first: number | null) => Math.max(1, Math.ceil(((first ?? t) + limits.windowMs - t) / 1000));
    const pair = failuresFor.get(name.toLowerCase(), ip, since)!;
    if (pair.n + (inFlight.get(`u:${name.toLowerCase()}|${ip}`) ?? 0) >= limits.perAddressUser) return { ok: false, reason: 'locked', retryAfterSec: after(pair.first) };
    const addr = failuresFrom.get(ip, since)!;
    if (addr.n + (inFlight.get(`a:${ip}`) ?? 0) >= limits.perAddress) return { ok: false, reason: 'address-limited', retryAfterSec: after(addr.first) };
    const user = failuresOf.get(name.toLowerCase(), since)!;
    if (user.n >= limits.perUser && !known.get(name, ip, t - limits.knownMs)) return { ok: false, reason: 'user-limited', retryAfterSec: after(user.first) };
    return null;
  }

  function bySessionKey(key: string, slide: boolean): SessionUser | undefined {
    const t = now();
    const s = getSession.get(key);
    if (!s || s.disabled_at !== null || s.expires_at < t || t - s.last_seen > SESSION.idleMs) return undefined;
    if (slide && t - s.last_seen > 60_000) db.prepare('UPDATE sessions SET last_seen = ? WHERE id_hash = ?').run(t, key);
    return { name: s.user_name, role: s.role, csrfToken: s.csrf_token, sessionKey: key };
  }

  function openSession(user: { name: string; role: Role }, ip: string, t: number): { sessionId: string; user: SessionUser } {
    const sessionId = randomBytes(32).toString('base64url');
    const csrfToken = randomBytes(24).toString('base64url');
    db.prepare('DELETE FROM sessions WHERE expires_at < ?').run(t);
    db.prepare('INSERT INTO login_known (user_name, ip, last_ok) VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET last_ok = excluded.last_ok').run(user.name, ip, t);
    db.prepare('INSERT INTO sessions (id_hash, user_name, csrf_token, created_at, last_seen, expires_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(hashToken(sessionId), user.name, csrfToken, t, t, t + SESSION.maxMs);
    return { sessionId, user: { name: user.name, role: user.role, csrfToken, sessionKey: hashToken(sessionId) } };
  }

  function setHash(name: string, role: Role, hash: string): void {
    if (isSsoName(name)) throw noPassword(name);
    db.transaction(() => {
      db.prepare('INSERT INTO users (name, role, password_hash, created_at) VALUES (?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET role = excluded.role, password_hash = excluded.password_hash, disabled_at = NULL')
        .run(name, role, hash, now());
      endSessions.run(name); // a new password ends every session opened with the old one
    })();
  }

  function resetHash(name: string, hash: string): boolean {
    if (isSsoName(name)) throw noPassword(name);
    return db.transaction(() => {
      if (db.prepare('UPDATE users SET password_hash = ? WHERE name = ?').run(hash, name).changes === 0) return false;
      endSessions.run(name);
      db.prepare('DELETE FROM login_failures WHERE user_name = ?').run(name.toLowerCase());
      return true;
    })();
  }

  return {
    hasher,
    /** Creates or replaces a user (password hashed synchronously: CLI and start-up only). */
    add: (name: string, role: Role, password: string): void => setHash(name, role, hashPasswordSync(password)),
    /** The same, for request handlers: hashing waits for a free hashing slot. */
    addAsync: async (name: string, role: Role, password: string): Promise<void> => setHash(name, role, await hasher.hash(password)),
    /** New password for an existing user; every session of theirs ends. False: no such user. */
    reset: (name: string, password: string): boolean => resetHash(name, hashPasswordSync(password)),
    resetAsync: async (name: string, password: string): Promise<boolean> => resetHash(name, await hasher.hash(password)),
    /** Disables a user: no login, every session ends. False: no such (enabled) user. */
    disable(name: string): boolean {
      return db.transaction(() => {
        if (db.prepare('UPDATE users SET disabled_at = ? WHERE name = ? AND disabled_at IS NULL').run(now(), name).changes === 0) return false;
        endSessions.run(name);
        return true;
      })();
    },
    /** Lets a disabled user sign in again (single sign-on users have no password to re-add). False: no such disabled user. */
    enable: (name: string): boolean => db.prepare('UPDATE users SET disabled_at = NULL WHERE name = ? AND disabled_at IS NOT NULL').run(name).changes > 0,
    exists: (name: string): boolean => getUser.get(name) !== undefined,
    get: (name: string): UserRow | undefined => {
      const u = getUser.get(name);
      return u ? { name: u.name, role: u.role, created_at: u.created_at, disabled_at: u.disabled_at } : undefined;
    },
    list: (): UserRow[] => db.prepare<[], UserRow>('SELECT name, role, created_at, disabled_at FROM users ORDER BY name').all(),
    /** Checks the limits, then the password (off the event loop). May throw KdfBusy. */
    async login(name: string, password: string, ip: string): Promise<LoginResult> {
      const t = now();
      const limited = refusal(t, ip, name);
      if (limited) return limited;
      const user = getUser.get(name);
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
        db.prepare('INSERT INTO login_failures (user_name, ip, at) VALUES (?, ?, ?)').run(name.toLowerCase(), ip, t2);
        return { ok: false, reason: 'wrong', retryAfterSec: 0 };
      }
      return { ok: true, ...db.transaction(() => {
        db.prepare('DELETE FROM login_failures WHERE user_name = ? AND ip = ?').run(name.toLowerCase(), ip);
        db.prepare('DELETE FROM login_failures WHERE at < ?').run(t2 - limits.windowMs);
        return openSession(user, ip, t2);
      })() };
    },
    /**
     * A session for a user signed in another way (single sign-on, server/oidc/): the same
     * cookie, lifetime and ending as a password login. Call inside the caller's transaction.
     */
    openSession: (user: { name: string; role: Role }, ip: string): { sessionId: string; user: SessionUser } => openSession(user, ip, now()),
    /** Ends every session of a user (by the stored name). */
    endSessions: (name: string): void => void endSessions.run(name),
    /** The session's user, sliding its idle timeout; undefined when unknown, ended, idle too long or expired. */
    session(sessionId: string): SessionUser | undefined {
      return bySessionKey(hashToken(sessionId), true);
    },
    /** Whether a session (by its key) is still valid, without counting as activity (a live stream's re-check). */
    sessionLive: (sessionKey: string): boolean => bySessionKey(sessionKey, false) !== undefined,
    logout: (sessionId: string): void => void db.prepare('DELETE FROM sessions WHERE id_hash = ?').run(hashToken(sessionId)),
  };
}

export type UserStore = ReturnType<typeof createUserStore>;
