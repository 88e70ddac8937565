/**
 * Clinician exceptions (issue 14): one row per violation that a clinician claimed "I need
 * this app for this consult" for, with the reason, the window, and the lead's decision.
 */
export const name = 'exceptions';
export const sql = `
CREATE TABLE exceptions (
  agent_id     TEXT NOT NULL,
  violation_id TEXT NOT NULL,
  outcome_id   TEXT NOT NULL,
  app          TEXT NOT NULL,
  user         TEXT,
  reason       TEXT NOT NULL,
  label        TEXT NOT NULL,
  claimed_at   INTEGER NOT NULL,
  until        INTEGER NOT NULL,
  decision     TEXT CHECK (decision IN ('accepted', 'rejected')),
  decided_by   TEXT,
  decided_at   INTEGER,
  note         TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (agent_id, violation_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX exceptions_claimed ON exceptions(claimed_at);
-- A claim lives exactly as long as its violation: retention and data-subject erasure, which
-- delete violations, take the claim (reason, user) with it.
CREATE TRIGGER exceptions_follow_violations AFTER DELETE ON violations
BEGIN
  DELETE FROM exceptions WHERE agent_id = old.agent_id AND violation_id = old.id;
END;
`;
