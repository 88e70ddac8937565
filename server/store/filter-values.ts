/**
 * The dashboard's filter lists from small tables kept at ingest, retention and erasure
 * (server/store/rollups.ts), instead of a GROUP BY over every violation: users from
 * `filter_values` (one row per user), apps, sites and workstations from the month roll-ups
 * (a few rows per month each). The same lists as the old query (trends-raw.ts): most frequent first where
 * capped, then sorted; users shown as people.ts shows them (pseudonyms by default).
 */
import type { FilterValues } from '../../shared/api-types.js';
import type { Db } from './db.js';
import type { People } from './people.js';

export const FILTER_LIMITS = { app: 100, site: 500, hostname: 500, user: 500 } as const;

export function filterValuesFromRollups(db: Db, people: People): FilterValues {
  const list = (sql: string, limit: number) => db.prepare<[number], { value: string }>(`${sql} ORDER BY n DESC, value LIMIT ?`).all(limit).map((r) => r.value).sort();
  const users = list("SELECT value, n FROM filter_values WHERE kind = 'user' AND n > 0", FILTER_LIMITS.user);
  return {
    apps: list('SELECT app AS value, sum(n) AS n FROM rollup_site_months GROUP BY app', FILTER_LIMITS.app),
    // '' is no site; '=name' a site (015_rollups.ts).
    sites: list("SELECT substr(site, 2) AS value, sum(n) AS n FROM rollup_site_months WHERE site <> '' GROUP BY site", FILTER_LIMITS.site),
    hostnames: list('SELECT hostname AS value, sum(n) AS n FROM rollup_host_months GROUP BY hostname', FILTER_LIMITS.hostname),
    users: [...new Set(users.map((u) => people.show(u).user ?? ''))].filter(Boolean).sort(),
  };
}
