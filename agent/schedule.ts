/**
 * Consult hours on the agent. Every window boundary (HH:MM in the policy's zone) and
 * local midnight (closure dates start and end there) falls on a whole minute, in every
 * zone in use, so one timer that fires a second past each minute sees every change as
 * soon as a cron job at the boundary would; it is re-armed from the wall clock each time,
 * so it also catches the machine waking from sleep and the clock being changed. Each
 * firing re-evaluates `isWithinConsultHours` with the injectable clock and reports changes.
 *
 * Not node-cron: its time-zone support formats every tick with `Intl.DateTimeFormat`,
 * whose ICU data cost the agent ~8 MB of resident memory (shared/zone-clock.ts).
 */
import { isWithinConsultHours, type HoursPolicy } from '../shared/hours.js';
import { zoneLocalTime } from '../shared/zone-clock.js';

export interface ScheduleOptions {
  now: () => Date;
  onChange: (monitoring: boolean) => void;
  /** A fixed tick instead of the minute timer (tests with an injected clock). */
  tickMs?: number;
}

/** Milliseconds from `ms` to one second past the next whole minute. */
export function msToNextMinute(ms: number): number {
  return 60_000 - (((ms % 60_000) + 60_000) % 60_000) + 1000;
}

export function createSchedule(opts: ScheduleOptions) {
  let policy: HoursPolicy | null = null;
  let monitoring = false;
  let timer: NodeJS.Timeout | undefined;

  function evaluate(): boolean {
    const next = policy !== null && isWithinConsultHours(policy, opts.now(), zoneLocalTime);
    if (next !== monitoring) {
      monitoring = next;
      opts.onChange(next);
    }
    return monitoring;
  }

  function arm(): void {
    clearTimeout(timer);
    timer = setTimeout(() => {
      evaluate();
      arm();
    }, opts.tickMs ?? msToNextMinute(Date.now()));
    timer.unref();
  }

  return {
    setPolicy(p: HoursPolicy): void {
      policy = p;
      evaluate();
    },
    evaluate,
    monitoring: (): boolean => monitoring,
    start(): void {
      arm();
    },
    stop(): void {
      clearTimeout(timer);
      timer = undefined;
    },
  };
}

export type Schedule = ReturnType<typeof createSchedule>;
