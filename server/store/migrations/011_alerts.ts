/**
 * Alerts and scheduled reports: rules with their channels, a durable delivery queue,
 * the triggers ingest leaves for the alert loop, what has fired (so two instances or a
 * restart never alert twice), report schedules and the periods they have sent.
 */
export const name = 'alerts and scheduled reports';
export const sql = `
CREATE TABLE alert_rules (
  id          TEXT PRIMARY KEY,
  on_event    TEXT NOT NULL CHECK (on_event IN ('in-call', 'silent-agent', 'repeat', 'policy-error')),
  threshold   INTEGER,
  site        TEXT,
  -- JSON [{ kind, target, secret? }]; secrets stay here, never in an API answer after creation.
  channels    TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  created_by  TEXT NOT NULL
) STRICT;

-- Left by ingest (one cheap insert per matching event), turned into deliveries by the loop.
CREATE TABLE alert_triggers (
  seq          INTEGER PRIMARY KEY,
  rule_id      TEXT NOT NULL,
  agent_id     TEXT,
  violation_id TEXT,
  subject      TEXT,
  detail       TEXT,
  at           INTEGER NOT NULL
) STRICT;

-- One row per (rule, subject) that fired; fired_at moves only when the rule's window allows again.
CREATE TABLE alert_fired (
  rule_id   TEXT NOT NULL,
  subject   TEXT NOT NULL,
  fired_at  INTEGER NOT NULL,
  PRIMARY KEY (rule_id, subject)
) STRICT, WITHOUT ROWID;
CREATE INDEX alert_fired_at ON alert_fired(fired_at);

CREATE TABLE alert_deliveries (
  id          INTEGER PRIMARY KEY,
  alert_id    TEXT NOT NULL,
  rule_id     TEXT NOT NULL,
  channel     INTEGER NOT NULL,
  kind        TEXT NOT NULL,
  payload     TEXT NOT NULL,
  state       TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'delivered', 'failed')),
  attempts    INTEGER NOT NULL DEFAULT 0,
  next_at     INTEGER NOT NULL,
  lease_until INTEGER,
  last_error  TEXT,
  created_at  INTEGER NOT NULL,
  done_at     INTEGER
) STRICT;
CREATE INDEX alert_deliveries_due ON alert_deliveries(next_at) WHERE state = 'queued';
CREATE INDEX alert_deliveries_done ON alert_deliveries(done_at) WHERE state <> 'queued';

CREATE TABLE report_schedules (
  id          TEXT PRIMARY KEY,
  every       TEXT NOT NULL CHECK (every IN ('weekly', 'monthly')),
  site        TEXT NOT NULL,
  emails      TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  created_by  TEXT NOT NULL
) STRICT;

-- The claim row: one per schedule and period, so a restart or a second instance sends once.
CREATE TABLE report_runs (
  report_id   TEXT NOT NULL,
  period      TEXT NOT NULL,
  state       TEXT NOT NULL CHECK (state IN ('sending', 'sent', 'failed')),
  attempts    INTEGER NOT NULL DEFAULT 0,
  lease_until INTEGER NOT NULL,
  sent_at     INTEGER,
  last_error  TEXT,
  PRIMARY KEY (report_id, period)
) STRICT, WITHOUT ROWID;
`;
