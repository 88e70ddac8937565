/**
 * API tokens and enrolment secrets on PostgreSQL: hashes only, as in tokens.ts and secrets.ts.
 * `verify` runs on every API request and `live` on every stream re-check: prepared statements.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { SecretRow } from '../secrets.js';
import { hashToken, newToken, type ApiTokenRow, type Role } from '../tokens.js';
import type { PgDb } from './db.js';

export function createPgApiTokenStore(db: PgDb, now: () => number = Date.now) {
  return {
    async create(role: Role, name: string | null): Promise<{ id: string; token: string }> {
      const token = newToken('cg');
      const id = randomUUID();
      await db.query('INSERT INTO api_tokens (id, name, role, token_hash, created_at) VALUES ($1, $2, $3, $4, $5)', [id, name, role, hashToken(token), now()]);
      return { id, token };
    },
    verify: async (token: string): Promise<{ id: string; role: Role; name: string | null } | undefined> =>
      (await db.prepared<{ id: string; role: Role; name: string | null }>('SELECT id, role, name FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL', [hashToken(token)])).rows[0],
    revoke: async (id: string): Promise<boolean> => ((await db.query('UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL', [now(), id])).rowCount ?? 0) > 0,
    list: async (): Promise<ApiTokenRow[]> => (await db.query<ApiTokenRow>('SELECT id, name, role, created_at, revoked_at FROM api_tokens ORDER BY created_at DESC, id')).rows,
    live: async (id: string): Promise<boolean> => ((await db.prepared('SELECT 1 FROM api_tokens WHERE id = $1 AND revoked_at IS NULL', [id])).rowCount ?? 0) > 0,
  };
}

export function createPgSecretStore(db: PgDb, now: () => number = Date.now) {
  return {
    async create(site: string | null): Promise<{ id: string; secret: string }> {
      const secret = randomBytes(24).toString('base64url');
      const id = randomUUID();
      await db.query('INSERT INTO enroll_secrets (id, site, secret_hash, created_at) VALUES ($1, $2, $3, $4)', [id, site, hashToken(secret), now()]);
      return { id, secret };
    },
    find: async (secret: string): Promise<SecretRow | undefined> =>
      (await db.query<SecretRow>('SELECT id, site, created_at, revoked_at FROM enroll_secrets WHERE secret_hash = $1 AND revoked_at IS NULL', [hashToken(secret)])).rows[0],
    revoke: async (id: string): Promise<boolean> => ((await db.query('UPDATE enroll_secrets SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL', [now(), id])).rowCount ?? 0) > 0,
    list: async (): Promise<SecretRow[]> => (await db.query<SecretRow>('SELECT id, site, created_at, revoked_at FROM enroll_secrets ORDER BY created_at')).rows,
  };
}
