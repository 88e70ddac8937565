/**
 * Report periods in the site's time zone: a week is Monday 00:00 to the next Monday 00:00,
 * a month the calendar month. Each period has a key (`weekly:2026-11-16`,
 * `monthly:2026-11`) that the claim row is keyed by, so "sent" means once per period.
 */
import { localTime } from '../../shared/hours.js';

export type Every = 'weekly' | 'monthly';

export interface Period {
  key: string;
  /** First and last local day, both included (what the report page takes). */
  firstDay: string;
  lastDay: string;
  since: number;
  until: number;
}

/** The UTC instant of local midnight starting `day` (YYYY-MM-DD) in `tz`. */
export function localMidnight(tz: string, day: string): number {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  let t = Date.UTC(y, m - 1, d);
  // Two corrections settle any real offset, DST days included.
  for (let i = 0; i < 3; i++) {
    const lt = localTime(tz, new Date(t));
    const [ly, lm, ld] = lt.date.split('-').map(Number) as [number, number, number];
    const shownAsUtc = Date.UTC(ly, lm - 1, ld) + lt.minutes * 60_000;
    const target = Date.UTC(y, m - 1, d);
    if (shownAsUtc === target) break;
    t += target - shownAsUtc;
  }
  return t;
}

const dayOf = (y: number, m: number, d: number): string => new Date(Date.UTC(y, m - 1, d)).toISOString().slice(0, 10);
const addDays = (day: string, n: number): string => {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  return dayOf(y, m, d + n);
};

/** The last period that has fully ended at `now`. */
export function lastCompletePeriod(every: Every, tz: string, now: number): Period {
  const today = localTime(tz, new Date(now));
  const [y, m] = today.date.split('-').map(Number) as [number, number, number];
  if (every === 'monthly') {
    const firstDay = dayOf(y, m - 1, 1);
    const nextFirst = dayOf(y, m, 1);
    return { key: `monthly:${firstDay.slice(0, 7)}`, firstDay, lastDay: addDays(nextFirst, -1), since: localMidnight(tz, firstDay), until: localMidnight(tz, nextFirst) };
  }
  const back = (['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const).indexOf(today.weekday);
  const thisMonday = addDays(today.date, -back);
  const firstDay = addDays(thisMonday, -7);
  return { key: `weekly:${firstDay}`, firstDay, lastDay: addDays(thisMonday, -1), since: localMidnight(tz, firstDay), until: localMidnight(tz, thisMonday) };
}
