/**
 * Roll-ups (issue 18): per-day counts kept at ingest, so trends, the report and the top-N
 * lists read a few thousand small rows instead of a year of violations.
 *
 * Every violation counts once, on the local day (in `rollup_state.tz`, the clinic's zone)
 * of its start: by app and state for all sites (`rollup_days`), by site, app and state per
 * day and per month (`rollup_site_days`, `rollup_site_months`), and by workstation per day
 * and per month (`rollup_host_days`, `rollup_host_months`). Months let a year-long top-N
 * read 12 rows per key instead of 365. In-call time of open violations depends on "now":
 * they are kept as a count and a sum of start times (minutes = count * now - sum).
 * `site` is '' for no site and '=' + the site otherwise, so a key column is never NULL.
 *
 * `filter_values` holds the users for the dashboard's filter list, with how many
 * violations hold each; a value leaves when its count reaches 0. Apps, sites and
 * workstations for the filter lists come from the month tables (a few rows per month).
 *
 * A store made before this migration starts with empty roll-ups and `ready = 0`: reads use
 * the violations until `rollups rebuild` (or the server at start) has counted them.
 * Ingest keeps counting only violations with `seq <= through`, so a rebuild can run in
 * small transactions beside live ingest (server/store/rollups.ts).
 *
 * Plain SQL types and `ON CONFLICT ... DO UPDATE` upserts: the PostgreSQL twin is the same
 * text with BIGINT for INTEGER.
 */
export const name = 'rollups';

const measures = `
  n            INTEGER NOT NULL,
  incall_ms    INTEGER NOT NULL,
  open_incall  INTEGER NOT NULL,
  open_start   INTEGER NOT NULL,
  shown        INTEGER NOT NULL,
  clicked      INTEGER NOT NULL,
  claimed      INTEGER NOT NULL,
  accepted     INTEGER NOT NULL,
  rejected     INTEGER NOT NULL`;

export const sql = `
CREATE TABLE rollup_state (
  id        INTEGER PRIMARY KEY CHECK (id = 1),
  tz        TEXT,
  through   INTEGER NOT NULL DEFAULT 0,
  ready     INTEGER NOT NULL DEFAULT 0,
  built_at  INTEGER
) STRICT;
INSERT INTO rollup_state (id) VALUES (1);

CREATE TABLE rollup_days (
  day TEXT NOT NULL, app TEXT NOT NULL, state TEXT NOT NULL,${measures},
  PRIMARY KEY (day, app, state)
) STRICT, WITHOUT ROWID;
CREATE TABLE rollup_site_days (
  day TEXT NOT NULL, site TEXT NOT NULL, app TEXT NOT NULL, state TEXT NOT NULL,${measures},
  PRIMARY KEY (site, day, app, state)
) STRICT, WITHOUT ROWID;
CREATE TABLE rollup_site_months (
  month TEXT NOT NULL, site TEXT NOT NULL, app TEXT NOT NULL, state TEXT NOT NULL,${measures},
  PRIMARY KEY (month, site, app, state)
) STRICT, WITHOUT ROWID;
CREATE INDEX rollup_site_days_day ON rollup_site_days(day);
CREATE TABLE rollup_host_days (
  day TEXT NOT NULL, site TEXT NOT NULL, hostname TEXT NOT NULL, n INTEGER NOT NULL,
  PRIMARY KEY (day, site, hostname)
) STRICT, WITHOUT ROWID;
CREATE INDEX rollup_host_days_site ON rollup_host_days(site, day);
CREATE TABLE rollup_host_months (
  month TEXT NOT NULL, site TEXT NOT NULL, hostname TEXT NOT NULL, n INTEGER NOT NULL,
  PRIMARY KEY (month, site, hostname)
) STRICT, WITHOUT ROWID;
CREATE INDEX rollup_host_months_site ON rollup_host_months(site, month);

CREATE TABLE filter_values (
  kind   TEXT NOT NULL CHECK (kind IN ('user')),
  value  TEXT NOT NULL,
  n      INTEGER NOT NULL,
  PRIMARY KEY (kind, value)
) STRICT, WITHOUT ROWID;
`;
