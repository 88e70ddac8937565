/**
 * Numbered migrations, applied in order inside one transaction each. Never edit a
 * migration that has shipped: add the next number.
 */
import * as m001 from './001_initial.js';
import * as m002 from './002_secrets.js';
import * as m003 from './003_nudges.js';
import * as m004 from './004_feed_indexes.js';
import * as m005 from './005_dashboard.js';
import * as m006 from './006_reviews.js';
import * as m007 from './007_agent_identity.js';
import * as m008 from './008_login_limits.js';
import * as m009 from './009_privacy.js';
import * as m011 from './011_alerts.js';
import * as m010 from './010_exceptions.js';
import * as m012 from './012_instances.js';
import * as m013 from './013_sso.js';
import * as m014 from './014_violation_changes.js';
import * as m015 from './015_rollups.js';
import * as m016 from './016_presence.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const migrations: Migration[] = [
  { version: 1, ...m001 },
  { version: 2, ...m002 },
  { version: 3, ...m003 },
  { version: 4, ...m004 },
  { version: 5, ...m005 },
  { version: 6, ...m006 },
  { version: 7, ...m007 },
  { version: 8, ...m008 },
  { version: 9, ...m009 },
  { version: 10, ...m010 },
  { version: 11, ...m011 },
  { version: 12, ...m012 },
  { version: 13, ...m013 },
  { version: 14, ...m014 },
  { version: 15, ...m015 },
  { version: 16, ...m016 },
];
