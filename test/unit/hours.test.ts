import { describe, expect, it } from 'vitest';
import { isWithinConsultHours, localTime } from '../../shared/hours.js';

const sydney = {
  timezone: 'Australia/Sydney',
  consultHours: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'] as const, from: '08:00', to: '18:00' }].map((w) => ({ ...w, days: [...w.days] })),
  closures: ['2026-12-25'],
};

describe('consult hours', () => {
  it('is inside from 08:00 to 17:59 local on weekdays only', () => {
    // Monday 23 Nov 2026 in Sydney (UTC+11 in summer).
    expect(isWithinConsultHours(sydney, new Date('2026-11-22T20:59:00Z'))).toBe(false); // 07:59
    expect(isWithinConsultHours(sydney, new Date('2026-11-22T21:00:00Z'))).toBe(true); // 08:00
    expect(isWithinConsultHours(sydney, new Date('2026-11-23T06:59:00Z'))).toBe(true); // 17:59
    expect(isWithinConsultHours(sydney, new Date('2026-11-23T07:00:00Z'))).toBe(false); // 18:00
    expect(isWithinConsultHours(sydney, new Date('2026-11-21T23:00:00Z'))).toBe(false); // Sunday 10:00
  });

  it('is outside on closure dates', () => {
    expect(isWithinConsultHours(sydney, new Date('2026-12-24T23:00:00Z'))).toBe(false); // Fri 25 Dec 10:00
    expect(isWithinConsultHours(sydney, new Date('2026-12-23T23:00:00Z'))).toBe(true); // Thu 24 Dec 10:00
  });

  it('keeps 08:00 local across a daylight-saving change', () => {
    // Sydney leaves DST on Sun 5 Apr 2026: Friday 3 Apr is UTC+11, Monday 6 Apr is UTC+10.
    expect(isWithinConsultHours(sydney, new Date('2026-04-02T21:00:00Z'))).toBe(true); // Fri 08:00 (+11)
    expect(isWithinConsultHours(sydney, new Date('2026-04-05T21:00:00Z'))).toBe(false); // Mon 07:00 (+10)
    expect(isWithinConsultHours(sydney, new Date('2026-04-05T22:00:00Z'))).toBe(true); // Mon 08:00 (+10)
    expect(localTime('Australia/Sydney', new Date('2026-04-05T22:00:00Z'))).toEqual({ date: '2026-04-06', weekday: 'mon', minutes: 480 });
  });

  it('treats 24:00 as the end of the day', () => {
    const allDay = { timezone: 'UTC', consultHours: [{ days: ['sun' as const], from: '00:00', to: '24:00' }], closures: [] };
    expect(isWithinConsultHours(allDay, new Date('2026-11-22T23:59:30Z'))).toBe(true);
    expect(isWithinConsultHours(allDay, new Date('2026-11-23T00:00:00Z'))).toBe(false);
  });
});
