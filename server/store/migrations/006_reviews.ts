/** Every acknowledgement and resolution of a violation, not only the latest (for its timeline). */
export const name = 'review history';
export const sql = `
CREATE TABLE reviews (
  seq          INTEGER PRIMARY KEY,
  agent_id     TEXT NOT NULL,
  violation_id TEXT NOT NULL,
  status       TEXT NOT NULL CHECK (status IN ('acknowledged', 'resolved')),
  by           TEXT NOT NULL,
  at           INTEGER NOT NULL,
  note         TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX reviews_violation ON reviews(agent_id, violation_id, at);
`;
