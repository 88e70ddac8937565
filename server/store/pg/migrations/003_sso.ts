/**
 * The twin of SQLite migration 013 (single sign-on, store/migrations/013_sso.ts): a
 * provider's user keyed by issuer + subject, linked to a users row of its own (`sso:NAME`,
 * deleted with it), and the sign-ins under way (state, nonce, PKCE verifier; ten minutes,
 * used once, keyed by the hash of a browser cookie, so any instance can finish one).
 * SQLite's WITHOUT ROWID primary keys are plain primary keys here.
 */
export const name = 'single sign-on';
export const sql = `
CREATE TABLE oidc_identities (
  issuer      text NOT NULL,
  subject     text NOT NULL,
  user_name   text NOT NULL UNIQUE REFERENCES users(name) ON DELETE CASCADE,
  username    text NOT NULL,
  created_at  bigint NOT NULL,
  last_login  bigint NOT NULL,
  PRIMARY KEY (issuer, subject)
);

CREATE TABLE oidc_pending (
  id_hash     text PRIMARY KEY,
  state       text NOT NULL,
  nonce       text NOT NULL,
  verifier    text NOT NULL,
  next_path   text NOT NULL,
  expires_at  bigint NOT NULL
);
CREATE INDEX oidc_pending_expires ON oidc_pending (expires_at);
`;
