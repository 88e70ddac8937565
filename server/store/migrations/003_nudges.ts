/** Nudge outcomes, stored once per agent and id, summarised on each violation for the feed. */
export const name = 'nudges';
export const sql = `
CREATE TABLE nudges (
  agent_id     TEXT NOT NULL,
  id           TEXT NOT NULL,
  violation_id TEXT NOT NULL,
  app          TEXT NOT NULL,
  user         TEXT,
  outcome      TEXT NOT NULL,
  at           INTEGER NOT NULL,
  detail       TEXT,
  received_at  INTEGER NOT NULL,
  PRIMARY KEY (agent_id, id)
) STRICT, WITHOUT ROWID;
CREATE INDEX nudges_violation ON nudges(agent_id, violation_id, at);
CREATE INDEX nudges_at ON nudges(at);
ALTER TABLE violations ADD COLUMN nudge_shown_at INTEGER;
ALTER TABLE violations ADD COLUMN nudge_clicked_at INTEGER;
`;
