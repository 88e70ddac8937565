import { describe, expect, it } from 'vitest';
import { localTime } from '../../shared/hours.js';
import { zoneLocalTime, zoneOffsetMinutes } from '../../shared/zone-clock.js';
import { msToNextMinute } from '../../agent/schedule.js';

// Zones with daylight saving both ways, half- and quarter-hour offsets, a 30-minute DST
// shift (Lord Howe) and none at all.
const ZONES = ['Australia/Sydney', 'Australia/Lord_Howe', 'Pacific/Chatham', 'Asia/Kathmandu', 'America/St_Johns', 'UTC'];

describe('zone wall clock without Intl.DateTimeFormat', () => {
  it('gives what Intl gives, every hour through 2026 and minute by minute around each change', () => {
    const start = Date.UTC(2026, 0, 1);
    const end = Date.UTC(2027, 0, 1);
    const same = (ms: number, tz: string): void => {
      expect(zoneLocalTime(tz, new Date(ms)), `${tz} ${new Date(ms).toISOString()}`).toEqual(localTime(tz, new Date(ms)));
    };
    for (const tz of ZONES) {
      let previous = zoneOffsetMinutes(tz, start);
      let changes = 0;
      for (let ms = start; ms < end; ms += 3_600_000) {
        same(ms, tz);
        const offset = zoneOffsetMinutes(tz, ms);
        if (offset !== previous) {
          changes += 1;
          for (let m = ms - 3_600_000; m <= ms; m += 60_000) same(m, tz);
        }
        previous = offset;
      }
      expect(changes, tz).toBe(['Asia/Kathmandu', 'UTC'].includes(tz) ? 0 : 2);
    }
  });

  it('reads the offsets the zones have', () => {
    expect(zoneOffsetMinutes('Australia/Sydney', Date.parse('2026-01-15T00:00:00Z'))).toBe(660);
    expect(zoneOffsetMinutes('Australia/Sydney', Date.parse('2026-07-15T00:00:00Z'))).toBe(600);
    expect(zoneOffsetMinutes('Asia/Kathmandu', Date.parse('2026-07-15T00:00:00Z'))).toBe(345);
    expect(zoneOffsetMinutes('America/New_York', Date.parse('2026-01-15T00:00:00Z'))).toBe(-300);
  });

  it('leaves the process in its own zone', () => {
    const before = process.env.TZ;
    const offset = new Date(Date.UTC(2026, 0, 15)).getTimezoneOffset();
    zoneOffsetMinutes('Asia/Kathmandu', Date.UTC(2026, 5, 1, 3));
    expect(process.env.TZ).toBe(before);
    expect(new Date(Date.UTC(2026, 0, 15)).getTimezoneOffset()).toBe(offset);
  });
});

describe('the consult-hours timer', () => {
  it('fires a second past the next whole minute', () => {
    expect(msToNextMinute(Date.parse('2026-11-23T08:59:59.500Z'))).toBe(1500);
    expect(msToNextMinute(Date.parse('2026-11-23T09:00:00.000Z'))).toBe(61_000);
    expect(msToNextMinute(Date.parse('2026-11-23T09:00:00.999Z'))).toBe(60_001);
  });
});
