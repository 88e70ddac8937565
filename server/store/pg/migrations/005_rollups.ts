/**
 * The twin of SQLite migration 015 (trend roll-ups): the same tables and columns, kept the
 * same way (server/store/pg/rollups.ts) in the transactions that change violations.
 * `migrate --to` does not copy them: the target counts them again at its first start.
 */
export const name = 'rollups';

const measures = `
  n            bigint NOT NULL,
  incall_ms    bigint NOT NULL,
  open_incall  bigint NOT NULL,
  open_start   bigint NOT NULL,
  shown        bigint NOT NULL,
  clicked      bigint NOT NULL,
  claimed      bigint NOT NULL,
  accepted     bigint NOT NULL,
  rejected     bigint NOT NULL`;

export const sql = `
CREATE TABLE rollup_state (
  id        integer PRIMARY KEY CHECK (id = 1),
  tz        text,
  through   bigint NOT NULL DEFAULT 0,
  ready     integer NOT NULL DEFAULT 0,
  built_at  bigint
);
INSERT INTO rollup_state (id) VALUES (1);

CREATE TABLE rollup_days (
  day text NOT NULL, app text NOT NULL, state text NOT NULL,${measures},
  PRIMARY KEY (day, app, state)
);
CREATE TABLE rollup_site_days (
  day text NOT NULL, site text NOT NULL, app text NOT NULL, state text NOT NULL,${measures},
  PRIMARY KEY (site, day, app, state)
);
CREATE TABLE rollup_site_months (
  month text NOT NULL, site text NOT NULL, app text NOT NULL, state text NOT NULL,${measures},
  PRIMARY KEY (month, site, app, state)
);
CREATE INDEX rollup_site_days_day ON rollup_site_days (day);
CREATE TABLE rollup_host_days (
  day text NOT NULL, site text NOT NULL, hostname text NOT NULL, n bigint NOT NULL,
  PRIMARY KEY (day, site, hostname)
);
CREATE INDEX rollup_host_days_site ON rollup_host_days (site, day);
CREATE TABLE rollup_host_months (
  month text NOT NULL, site text NOT NULL, hostname text NOT NULL, n bigint NOT NULL,
  PRIMARY KEY (month, site, hostname)
);
CREATE INDEX rollup_host_months_site ON rollup_host_months (site, month);

CREATE TABLE filter_values (
  kind   text NOT NULL CHECK (kind IN ('user')),
  value  text NOT NULL,
  n      bigint NOT NULL,
  PRIMARY KEY (kind, value)
);
`;
