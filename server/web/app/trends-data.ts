/** Sums over /api/trends, shared by the trends page and the printable report. */
import { addDays, toDay } from './format.js';
import type { TrendDay, Trends } from './types.js';

export interface TrendSummary {
  total: number;
  inCallMinutes: number;
  byApp: Array<{ app: string; count: number }>;
  apps: string[];
}

export function summarise(t: Trends): TrendSummary {
  const byApp = new Map<string, number>();
  let inCallMinutes = 0;
  for (const d of t.days) {
    inCallMinutes += d.inCallMinutes;
    for (const [app, n] of Object.entries(d.byApp)) byApp.set(app, (byApp.get(app) ?? 0) + n);
  }
  const list = [...byApp].map(([app, count]) => ({ app, count })).sort((a, b) => b.count - a.count || a.app.localeCompare(b.app));
  return { total: list.reduce((s, x) => s + x.count, 0), inCallMinutes: Math.round(inCallMinutes), byApp: list, apps: list.map((x) => x.app) };
}

/**
 * Every day of the period, with zeros where nothing happened (the API lists only days
 * with violations), so a chart's axis spans the whole period.
 */
export function fillDays(days: TrendDay[], since: Date, until: Date): TrendDay[] {
  const byKey = new Map(days.map((d) => [d.day, d]));
  for (let d = since; d < until; d = addDays(d, 1)) {
    const key = toDay(d);
    if (!byKey.has(key)) byKey.set(key, { day: key, byApp: {}, inCallMinutes: 0 });
  }
  return [...byKey.values()].sort((a, b) => a.day.localeCompare(b.day));
}
