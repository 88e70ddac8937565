/**
 * The dashboard's filter lists from `filter_values` (migrations/012_rollups.ts): one small
 * row per app, site, workstation and user with how many violations hold it, kept at ingest
 * and by retention and erasure (server/store/rollups.ts), instead of a GROUP BY over every
 * violation. The same lists as the old query (trends-raw.ts): most frequent first where
 * capped, then sorted; users shown as people.ts shows them (pseudonyms by default).
 */
import type { FilterValues } from '../../shared/api-types.js';
import type { Db } from './db.js';
import type { People } from './people.js';

export const FILTER_LIMITS = { app: 100, site: 500, hostname: 500, user: 500 } as const;

export function filterValuesFromRollups(db: Db, people: People): FilterValues {
  const top = db.prepare<[string, number], { value: string }>('SELECT value FROM filter_values WHERE kind = ? AND n > 0 ORDER BY n DESC, value LIMIT ?');
  const list = (kind: keyof typeof FILTER_LIMITS) => top.all(kind, FILTER_LIMITS[kind]).map((r) => r.value).sort();
  const users = [...new Set(list('user').map((u) => people.show(u).user ?? ''))].filter(Boolean).sort();
  return { apps: list('app'), sites: list('site'), hostnames: list('hostname'), users };
}
