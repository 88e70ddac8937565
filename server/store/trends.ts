/**
 * `GET /api/trends`, the report's summary and the exception counts, shaped from a tally
 * (tally.ts): roll-ups when they are counted in the asked zone, else the old queries
 * (trends-raw.ts). The top-N lists break ties by key (the old LIMIT left them to SQLite).
 */
import type { Trends } from '../../shared/api-types.js';
import { topOf, type Tally } from './tally.js';

const minutes = (ms: number) => Math.round((ms / 60_000) * 10) / 10;

export function trendsFromTally(t: Tally, timezone: string): Trends {
  return {
    // ISO dates sort as plain strings (localeCompare goes through ICU: milliseconds for a year).
    days: [...t.days].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([day, d]) => ({ day, byApp: Object.fromEntries(d.byApp), inCallMinutes: minutes(d.inCallMs) })),
    timezone,
    topSites: topOf(t.sites, 10).map(([site, count]) => ({ site: site ?? '(no site)', count })),
    topWorkstations: topOf(t.hosts, 10).map(([hostname, count]) => ({ hostname, count })),
    nudges: { violations: t.total, shown: t.shown, clicked: t.clicked },
  };
}

/** Exception counts of a tally (the PostgreSQL engine; SQLite sums them in one row, tally.ts). */
export function exceptionCountsFromTally(t: Tally) {
  return { claimed: t.claimed, accepted: t.accepted, rejected: t.rejected, pending: t.claimed - t.accepted - t.rejected, unexplained: t.total - t.claimed };
}

export { minutes as inCallMinutes };
