/**
 * Single sign-on (OpenID Connect). A provider's user is keyed by issuer + subject, never by
 * a name: each gets a users row of its own, named `sso:` + preferred_username (a name no
 * local account can have, so a local user of the same name is never taken over), with no
 * password. Sign-ins under way keep their state, nonce and PKCE verifier here for at most
 * ten minutes, keyed by the hash of a browser cookie, so any instance on the store can
 * finish one; each is used once.
 */
export const name = 'single sign-on';
export const sql = `
CREATE TABLE oidc_identities (
  issuer      TEXT NOT NULL,
  subject     TEXT NOT NULL,
  user_name   TEXT NOT NULL UNIQUE REFERENCES users(name) ON DELETE CASCADE,
  username    TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  last_login  INTEGER NOT NULL,
  PRIMARY KEY (issuer, subject)
) STRICT, WITHOUT ROWID;

CREATE TABLE oidc_pending (
  id_hash     TEXT PRIMARY KEY,
  state       TEXT NOT NULL,
  nonce       TEXT NOT NULL,
  verifier    TEXT NOT NULL,
  next_path   TEXT NOT NULL,
  expires_at  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
`;
