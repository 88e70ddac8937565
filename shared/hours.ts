/**
 * Consult hours: is a moment inside a policy's weekly windows, in the policy's IANA time
 * zone, and not on a closure date? Pure; the caller supplies the time. Wall-clock
 * arithmetic is done on the zone's local date and time (from Intl), so daylight-saving
 * changes need no special cases: 08:00 is 08:00 local on both sides of a change.
 */
import type { ConsultWindow, Weekday } from './policy.js';

export interface HoursPolicy {
  timezone: string;
  consultHours: ConsultWindow[];
  closures: string[];
}

const WEEKDAYS: Weekday[] = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit',
      weekday: 'short', hour: '2-digit', minute: '2-digit',
    });
    formatters.set(tz, f);
  }
  return f;
}

export interface LocalTime {
  date: string; // YYYY-MM-DD
  weekday: Weekday;
  minutes: number; // since local midnight
}

export function localTime(tz: string, at: Date): LocalTime {
  const parts: Record<string, string> = {};
  for (const p of formatter(tz).formatToParts(at)) parts[p.type] = p.value;
  const weekday = (parts.weekday ?? 'Sun').slice(0, 3).toLowerCase() as Weekday;
  return {
    date: `${parts.year}-${parts.month}-${parts.day}`,
    weekday: WEEKDAYS.includes(weekday) ? weekday : 'sun',
    minutes: Number(parts.hour) * 60 + Number(parts.minute),
  };
}

const toMinutes = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/**
 * `clock` turns an instant into the zone's wall clock: `localTime` (Intl) by default; the
 * agent passes `zoneLocalTime` (shared/zone-clock.ts), which gives the same answer without
 * loading ICU's formatting data.
 */
export function isWithinConsultHours(policy: HoursPolicy, at: Date, clock: (tz: string, at: Date) => LocalTime = localTime): boolean {
  const local = clock(policy.timezone, at);
  if (policy.closures.includes(local.date)) return false;
  return policy.consultHours.some(
    (w) => w.days.includes(local.weekday) && local.minutes >= toMinutes(w.from) && local.minutes < toMinutes(w.to),
  );
}
