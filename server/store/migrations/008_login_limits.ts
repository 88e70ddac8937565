/**
 * Login limits keyed by client address: failures remember the address they came from
 * (lock-out is per address + user name, so strangers guessing a name do not lock its owner
 * out), and the addresses a user has signed in from recently are remembered, so a storm of
 * guesses at one name from elsewhere never blocks its owner's usual address.
 */
export const name = 'login limits per address';
export const sql = `
ALTER TABLE login_failures ADD COLUMN ip TEXT NOT NULL DEFAULT '';
CREATE INDEX login_failures_ip ON login_failures(ip, at);
CREATE INDEX login_failures_user_ip ON login_failures(user_name, ip, at);

CREATE TABLE login_known (
  user_name  TEXT NOT NULL COLLATE NOCASE,
  ip         TEXT NOT NULL,
  last_ok    INTEGER NOT NULL,
  PRIMARY KEY (user_name, ip)
) STRICT, WITHOUT ROWID;

CREATE INDEX sessions_user ON sessions(user_name);
`;
