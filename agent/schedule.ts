/**
 * Consult hours on the agent. node-cron fires at each window boundary and at local
 * midnight (in the policy's zone); a minute tick catches what cron cannot see (the
 * machine waking from sleep, the clock being changed). Each trigger re-evaluates
 * `isWithinConsultHours` with the injectable clock and reports changes.
 */
import cron, { type ScheduledTask } from 'node-cron';
import { boundaryCrons, isWithinConsultHours, type HoursPolicy } from '../shared/hours.js';

export interface ScheduleOptions {
  now: () => Date;
  onChange: (monitoring: boolean) => void;
  /** Safety-net tick (default 60 s); also detects wall-clock jumps after sleep. */
  tickMs?: number;
}

export function createSchedule(opts: ScheduleOptions) {
  let policy: HoursPolicy | null = null;
  let monitoring = false;
  let tasks: ScheduledTask[] = [];
  let tick: NodeJS.Timeout | undefined;

  function evaluate(): boolean {
    const next = policy !== null && isWithinConsultHours(policy, opts.now());
    if (next !== monitoring) {
      monitoring = next;
      opts.onChange(next);
    }
    return monitoring;
  }

  function clearTasks(): void {
    for (const t of tasks) void t.destroy();
    tasks = [];
  }

  return {
    setPolicy(p: HoursPolicy): void {
      policy = p;
      clearTasks();
      for (const expr of boundaryCrons(p)) {
        // A second later than the boundary, so evaluation sees the new minute.
        const withDelay = expr.replace(/^0 /, '1 ');
        tasks.push(cron.schedule(withDelay, () => void evaluate(), { timezone: p.timezone, noOverlap: true, unref: true, suppressMissedWarning: true }));
      }
      evaluate();
    },
    evaluate,
    monitoring: (): boolean => monitoring,
    start(): void {
      clearInterval(tick);
      tick = setInterval(evaluate, opts.tickMs ?? 60_000);
      tick.unref();
    },
    stop(): void {
      clearInterval(tick);
      clearTasks();
    },
  };
}

export type Schedule = ReturnType<typeof createSchedule>;
