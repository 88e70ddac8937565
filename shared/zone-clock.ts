/**
 * A zone's wall clock without `Intl.DateTimeFormat`, for the agent.
 *
 * `Intl.DateTimeFormat` loads ICU's locale, calendar and pattern data: measured on this
 * machine, the first formatter (any zone, even UTC) adds 6.2 MB of the node binary's file
 * pages and 1.7 MB of anonymous memory to the process, for good; on the agent that was an
 * eighth of its resident memory, spent on telling whether it is 08:00 in Sydney. The
 * Date object's own local-time methods use only ICU's time-zone rules (+0.6 MB), and Node
 * re-reads the zone when `process.env.TZ` is assigned (on Windows too since Node 17;
 * checked under wine with the MSI's node 22.23.2: Sydney summer and winter, Kathmandu,
 * New York, Lord Howe; macOS as Linux, untested here). So
 * the offset of a zone at an instant is read by pointing TZ at the zone for one
 * synchronous call and putting it back; nothing else runs in between, and the rest of the
 * process keeps its own zone.
 *
 * Each switch costs ~30 us; the last answer is kept per quarter hour of UTC, since every
 * zone in use changes its offset only at a local whole or half hour, with offsets in
 * quarter hours: a quarter-hour UTC bucket never holds a change.
 *
 * The server keeps `localTime` (shared/hours.ts): it turns thousands of rows into local
 * dates per report, where a formatter's speed matters and its memory does not.
 */
import type { LocalTime } from './hours.js';
import type { Weekday } from './policy.js';

const WEEKDAYS: Weekday[] = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const QUARTER_HOUR_MS = 15 * 60_000;

let last: { tz: string; bucket: number; offsetMinutes: number } | undefined;

/** Minutes east of UTC of zone `tz` at `ms` (e.g. 660 for Sydney in summer). */
export function zoneOffsetMinutes(tz: string, ms: number): number {
  const bucket = Math.floor(ms / QUARTER_HOUR_MS);
  if (last?.tz === tz && last.bucket === bucket) return last.offsetMinutes;
  const previous = process.env.TZ;
  let offsetMinutes: number;
  process.env.TZ = tz;
  try {
    offsetMinutes = -new Date(bucket * QUARTER_HOUR_MS).getTimezoneOffset();
  } finally {
    if (previous === undefined) delete process.env.TZ;
    else process.env.TZ = previous;
  }
  last = { tz, bucket, offsetMinutes };
  return offsetMinutes;
}

/** The same answer as `localTime` in shared/hours.ts, from the zone's offset. */
export function zoneLocalTime(tz: string, at: Date): LocalTime {
  const local = new Date(at.getTime() + zoneOffsetMinutes(tz, at.getTime()) * 60_000);
  return {
    date: local.toISOString().slice(0, 10),
    weekday: WEEKDAYS[local.getUTCDay()] ?? 'sun',
    minutes: local.getUTCHours() * 60 + local.getUTCMinutes(),
  };
}
