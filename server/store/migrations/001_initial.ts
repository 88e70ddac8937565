/** Agents, their events (stored once per agent and event id), violations folded from them, API tokens. */
export const name = 'initial';
export const sql = `
CREATE TABLE agents (
  agent_id       TEXT PRIMARY KEY,
  hostname       TEXT NOT NULL,
  platform       TEXT NOT NULL,
  os_version     TEXT,
  agent_version  TEXT,
  site           TEXT,
  grp            TEXT,
  token_hash     TEXT,
  enrolled_at    INTEGER NOT NULL,
  last_seen      INTEGER,
  policy_version TEXT,
  monitoring     INTEGER,
  health         TEXT
) STRICT;
CREATE UNIQUE INDEX agents_token ON agents(token_hash) WHERE token_hash IS NOT NULL;

-- One row per event id per agent: the primary key is what makes storage exactly-once.
CREATE TABLE events (
  agent_id     TEXT NOT NULL,
  id           TEXT NOT NULL,
  violation_id TEXT NOT NULL,
  kind         TEXT NOT NULL,
  at           INTEGER NOT NULL,
  body         TEXT NOT NULL,
  received_at  INTEGER NOT NULL,
  PRIMARY KEY (agent_id, id)
) STRICT, WITHOUT ROWID;
CREATE INDEX events_violation ON events(agent_id, violation_id, at);

CREATE TABLE violations (
  seq          INTEGER PRIMARY KEY,
  id           TEXT NOT NULL,
  agent_id     TEXT NOT NULL,
  hostname     TEXT NOT NULL,
  site         TEXT,
  user         TEXT,
  app          TEXT NOT NULL,
  state        TEXT NOT NULL,
  via          TEXT NOT NULL,
  started_at   INTEGER NOT NULL,
  ended_at     INTEGER,
  evidence     TEXT NOT NULL DEFAULT '[]',
  updated_at   INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX violations_agent_id ON violations(agent_id, id);
-- The feed is newest first, filtered by any of these; each index ends in (started_at, seq)
-- so a filtered page is an index range scan with keyset pagination.
CREATE INDEX violations_started ON violations(started_at DESC, seq DESC);
CREATE INDEX violations_app ON violations(app, started_at DESC, seq DESC);
CREATE INDEX violations_agent ON violations(agent_id, started_at DESC, seq DESC);
CREATE INDEX violations_site ON violations(site, started_at DESC, seq DESC);
CREATE INDEX violations_open ON violations(agent_id) WHERE ended_at IS NULL;

CREATE TABLE api_tokens (
  id          TEXT PRIMARY KEY,
  name        TEXT,
  role        TEXT NOT NULL CHECK (role IN ('lead', 'admin')),
  token_hash  TEXT NOT NULL UNIQUE,
  created_at  INTEGER NOT NULL,
  revoked_at  INTEGER
) STRICT;
`;
