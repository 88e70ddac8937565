/**
 * Secrets as stored: random, high-entropy tokens kept only as SHA-256 hashes (a slow KDF
 * adds nothing for 256-bit random values), compared in constant time.
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Db } from './db.js';

export type Role = 'lead' | 'admin';

export const hashToken = (token: string): string => createHash('sha256').update(token).digest('hex');

export function newToken(prefix: string): string {
  return `${prefix}_${randomBytes(32).toString('base64url')}`;
}

export function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

export interface ApiTokenRow {
  id: string;
  name: string | null;
  role: Role;
  created_at: number;
  revoked_at: number | null;
}

export function createApiTokenStore(db: Db, now: () => number = Date.now) {
  const insert = db.prepare('INSERT INTO api_tokens (id, name, role, token_hash, created_at) VALUES (?, ?, ?, ?, ?)');
  const find = db.prepare<[string], { id: string; role: Role; name: string | null }>(
    'SELECT id, role, name FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL',
  );
  return {
    create(role: Role, name: string | null): { id: string; token: string } {
      const token = newToken('cg');
      const id = randomUUID();
      insert.run(id, name, role, hashToken(token), now());
      return { id, token };
    },
    verify: (token: string): { id: string; role: Role; name: string | null } | undefined => find.get(hashToken(token)),
    /** Takes effect on the next request made with it (every request looks the hash up). */
    revoke: (id: string): boolean => db.prepare('UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(now(), id).changes > 0,
    /** Every token ever made, newest first; never the token itself (only its hash is kept). */
    list: (): ApiTokenRow[] => db.prepare<[], ApiTokenRow>('SELECT id, name, role, created_at, revoked_at FROM api_tokens ORDER BY created_at DESC, id').all(),
    /** Still valid (a live stream's periodic re-check). */
    live: (id: string): boolean => db.prepare('SELECT 1 FROM api_tokens WHERE id = ? AND revoked_at IS NULL').get(id) !== undefined,
  };
}

export type ApiTokenStore = ReturnType<typeof createApiTokenStore>;
