/**
 * Privacy by design (issue 14): a per-store pseudonym key (made here by SQLite's own
 * randomness, once, so every process on this store computes the same pseudonyms), the
 * people seen (reported name -> pseudonym, so `user=` filters by pseudonym use the user
 * index), every reveal of a name (with its reason, for the violation's timeline), and the
 * indexes retention and data-subject requests need (by time, by user).
 */
export const name = 'privacy';
export const sql = `
CREATE TABLE privacy_key (
  id          INTEGER PRIMARY KEY CHECK (id = 1),
  key         TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  backfilled  INTEGER NOT NULL DEFAULT 0
) STRICT;
INSERT INTO privacy_key (id, key, created_at) VALUES (1, lower(hex(randomblob(32))), CAST(strftime('%s', 'now') AS INTEGER) * 1000);

CREATE TABLE people (
  name        TEXT PRIMARY KEY,
  pseudonym   TEXT NOT NULL,
  first_seen  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX people_pseudonym ON people(pseudonym);

CREATE TABLE reveals (
  seq          INTEGER PRIMARY KEY,
  agent_id     TEXT NOT NULL,
  violation_id TEXT NOT NULL,
  pseudonym    TEXT NOT NULL,
  by           TEXT NOT NULL,
  at           INTEGER NOT NULL,
  reason       TEXT NOT NULL
) STRICT;
CREATE INDEX reveals_violation ON reveals(agent_id, violation_id, at);
CREATE INDEX reveals_pseudonym ON reveals(pseudonym);
CREATE INDEX reveals_at ON reveals(at);

CREATE INDEX nudges_user ON nudges(user) WHERE user IS NOT NULL;
CREATE INDEX events_user ON events(json_extract(body, '$.user')) WHERE json_extract(body, '$.user') IS NOT NULL;
CREATE INDEX events_at ON events(at);
CREATE INDEX reviews_at ON reviews(at);
CREATE INDEX login_failures_at ON login_failures(at);
CREATE INDEX login_known_last ON login_known(last_ok);
CREATE INDEX sessions_expires ON sessions(expires_at);
CREATE INDEX violations_ended ON violations(ended_at) WHERE ended_at IS NOT NULL;
CREATE INDEX violations_stale ON violations(updated_at) WHERE ended_at IS NULL;
`;
