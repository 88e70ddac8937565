/** Dashboard logins and sessions, an audit log, and acknowledgement of violations. */
export const name = 'dashboard';
export const sql = `
CREATE TABLE users (
  name          TEXT PRIMARY KEY COLLATE NOCASE,
  role          TEXT NOT NULL CHECK (role IN ('lead', 'admin')),
  password_hash TEXT NOT NULL,
  created_at    INTEGER NOT NULL,
  disabled_at   INTEGER
) STRICT;

-- Only a hash of the session id is stored: a copy of the database opens no sessions.
CREATE TABLE sessions (
  id_hash     TEXT PRIMARY KEY,
  user_name   TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
  csrf_token  TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  last_seen   INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE login_failures (
  user_name  TEXT NOT NULL COLLATE NOCASE,
  at         INTEGER NOT NULL
) STRICT;
CREATE INDEX login_failures_user ON login_failures(user_name, at);

CREATE TABLE audit (
  seq     INTEGER PRIMARY KEY,
  at      INTEGER NOT NULL,
  actor   TEXT NOT NULL,
  action  TEXT NOT NULL,
  detail  TEXT NOT NULL DEFAULT '{}'
) STRICT;
CREATE INDEX audit_at ON audit(at);

ALTER TABLE violations ADD COLUMN ack_status TEXT;
ALTER TABLE violations ADD COLUMN ack_by TEXT;
ALTER TABLE violations ADD COLUMN ack_at INTEGER;
ALTER TABLE violations ADD COLUMN ack_note TEXT;
CREATE INDEX violations_id ON violations(id);
CREATE INDEX violations_hostname ON violations(hostname, started_at DESC, seq DESC);
CREATE INDEX violations_user ON violations(user, started_at DESC, seq DESC);
`;
