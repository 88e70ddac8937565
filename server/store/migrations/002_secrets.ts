/** Enrolment secrets kept in the store: per site, revocable, hashed. */
export const name = 'enrolment secrets';
export const sql = `
CREATE TABLE enroll_secrets (
  id          TEXT PRIMARY KEY,
  site        TEXT,
  secret_hash TEXT NOT NULL UNIQUE,
  created_at  INTEGER NOT NULL,
  revoked_at  INTEGER
) STRICT;
`;
