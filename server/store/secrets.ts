/**
 * Enrolment secrets in the store: one per site (or site-less), created and revoked by an
 * admin. An agent enrolling with a site's secret is recorded under that site.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Db } from './db.js';
import { hashToken } from './tokens.js';

export interface SecretRow {
  id: string;
  site: string | null;
  created_at: number;
  revoked_at: number | null;
}

export function createSecretStore(db: Db, now: () => number = Date.now) {
  const byHash = db.prepare<[string], SecretRow>('SELECT id, site, created_at, revoked_at FROM enroll_secrets WHERE secret_hash = ? AND revoked_at IS NULL');
  return {
    create(site: string | null): { id: string; secret: string } {
      const secret = randomBytes(24).toString('base64url');
      const id = randomUUID();
      db.prepare('INSERT INTO enroll_secrets (id, site, secret_hash, created_at) VALUES (?, ?, ?, ?)').run(id, site, hashToken(secret), now());
      return { id, secret };
    },
    /** The live secret matching `secret`, if any (hash lookup: no timing leak on the secret). */
    find: (secret: string): SecretRow | undefined => byHash.get(hashToken(secret)),
    revoke: (id: string): boolean => db.prepare('UPDATE enroll_secrets SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(now(), id).changes > 0,
    list: (): SecretRow[] => db.prepare<[], SecretRow>('SELECT id, site, created_at, revoked_at FROM enroll_secrets ORDER BY created_at').all(),
  };
}

export type SecretStore = ReturnType<typeof createSecretStore>;
