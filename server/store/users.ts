/**
 * Dashboard users and sessions. Passwords are hashed with scrypt (memory-hard; N=2^15,
 * r=8: 32 MiB and ~100 ms per try). Sessions are random ids stored only as hashes, with
 * an idle timeout and an absolute lifetime. Repeated failed logins lock the name out.
 */
import { randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import type { Db } from './db.js';
import { hashToken } from './tokens.js';
import type { Role } from './tokens.js';

const SCRYPT = { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
const KEYLEN = 32;
export const LOCKOUT = { failures: 5, windowMs: 15 * 60_000 };
export const SESSION = { idleMs: 30 * 60_000, maxMs: 12 * 3600_000 };

export function hashPassword(password: string): string {
  const salt = randomBytes(16);
  const key = scryptSync(password.normalize('NFC'), salt, KEYLEN, SCRYPT);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export function verifyPassword(password: string, stored: string): boolean {
  const [scheme, n, r, p, salt, key] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !key) return false;
  const expected = Buffer.from(key, 'base64');
  const actual = scryptSync(password.normalize('NFC'), Buffer.from(salt, 'base64'), expected.length, { N: Number(n), r: Number(r), p: Number(p), maxmem: SCRYPT.maxmem });
  return timingSafeEqual(expected, actual);
}

// Verified against when the user does not exist, so timing does not reveal valid names.
const DUMMY_HASH = hashPassword(randomBytes(12).toString('base64'));

export interface SessionUser {
  name: string;
  role: Role;
  csrfToken: string;
}

export function createUserStore(db: Db, now: () => number = Date.now) {
  const getUser = db.prepare<[string], { name: string; role: Role; password_hash: string; disabled_at: number | null }>('SELECT * FROM users WHERE name = ?');
  const failures = db.prepare<[string, number], { n: number }>('SELECT count(*) AS n FROM login_failures WHERE user_name = ? AND at > ?');
  const getSession = db.prepare<[string], { user_name: string; csrf_token: string; last_seen: number; expires_at: number; role: Role; disabled_at: number | null }>(
    'SELECT s.user_name, s.csrf_token, s.last_seen, s.expires_at, u.role, u.disabled_at FROM sessions s JOIN users u ON u.name = s.user_name WHERE s.id_hash = ?',
  );

  return {
    add(name: string, role: Role, password: string): void {
      db.prepare('INSERT INTO users (name, role, password_hash, created_at) VALUES (?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET role = excluded.role, password_hash = excluded.password_hash, disabled_at = NULL')
        .run(name, role, hashPassword(password), now());
    },
    exists: (name: string): boolean => getUser.get(name) !== undefined,
    /** 'locked' after too many recent failures, whatever the password. */
    login(name: string, password: string): { ok: true; sessionId: string; user: SessionUser } | { ok: false; reason: 'wrong' | 'locked' } {
      const t = now();
      if (failures.get(name, t - LOCKOUT.windowMs)!.n >= LOCKOUT.failures) return { ok: false, reason: 'locked' };
      const user = getUser.get(name);
      const good = verifyPassword(password, user?.password_hash ?? DUMMY_HASH) && user !== undefined && user.disabled_at === null;
      if (!good) {
        db.prepare('INSERT INTO login_failures (user_name, at) VALUES (?, ?)').run(name, t);
        return { ok: false, reason: 'wrong' };
      }
      db.prepare('DELETE FROM login_failures WHERE user_name = ?').run(name);
      db.prepare('DELETE FROM sessions WHERE expires_at < ?').run(t);
      const sessionId = randomBytes(32).toString('base64url');
      const csrfToken = randomBytes(24).toString('base64url');
      db.prepare('INSERT INTO sessions (id_hash, user_name, csrf_token, created_at, last_seen, expires_at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(hashToken(sessionId), user.name, csrfToken, t, t, t + SESSION.maxMs);
      return { ok: true, sessionId, user: { name: user.name, role: user.role, csrfToken } };
    },
    /** The session's user, sliding its idle timeout; undefined when unknown, idle too long or expired. */
    session(sessionId: string): SessionUser | undefined {
      const t = now();
      const s = getSession.get(hashToken(sessionId));
      if (!s || s.disabled_at !== null || s.expires_at < t || t - s.last_seen > SESSION.idleMs) return undefined;
      if (t - s.last_seen > 60_000) db.prepare('UPDATE sessions SET last_seen = ? WHERE id_hash = ?').run(t, hashToken(sessionId));
      return { name: s.user_name, role: s.role, csrfToken: s.csrf_token };
    },
    logout: (sessionId: string): void => void db.prepare('DELETE FROM sessions WHERE id_hash = ?').run(hashToken(sessionId)),
  };
}

export type UserStore = ReturnType<typeof createUserStore>;
