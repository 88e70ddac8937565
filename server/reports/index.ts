/**
 * Scheduled reports: every `checkMs` each schedule looks at the last period that has
 * fully ended in its site's time zone; if that period is not sent yet, one instance claims
 * it (store.ts), builds the report and its CSV, and mails it to the schedule's addresses.
 * A new schedule sends the period that ended last at once (so whoever set it up sees it
 * work), then each period as it ends. Only that latest period is sent: a server that was
 * off for a month sends the month just ended, not every week it missed.
 */
import type { Logger } from '../../shared/log.js';
import type { EffectivePolicy } from '../../shared/policy.js';
import type { PseudonymFor } from '../alerts/pseudonym.js';
import { sendErrorCode, type Mailer } from '../alerts/send.js';
import type { ReportSchedule, ReportStore, ViolationStore } from '../store/types.js';
import { periodCsv, renderReport, summarise } from './content.js';
import { lastCompletePeriod } from './period.js';

export interface ReportDeps {
  violations: ViolationStore;
  reports: ReportStore;
  mailer: Mailer;
  pseudonymFor: PseudonymFor;
  appName: (id: string) => string;
  policyFor: (a: { site?: string | null }) => EffectivePolicy;
  log: Logger;
  checkMs: number;
  now?: () => number;
}

const LEASE_MS = 10 * 60_000;

export function createReportScheduler(deps: ReportDeps) {
  const now = deps.now ?? Date.now;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;

  async function sendOne(s: ReportSchedule): Promise<void> {
    const tz = deps.policyFor({ site: s.site }).timezone;
    const t = now();
    const p = lastCompletePeriod(s.every, tz, t);
    if (!(await deps.reports.claim(s.id, p.key, LEASE_MS))) return;
    try {
      const summary = summarise(await deps.reports.figures(s.site, p.since, p.until, t, tz), tz, deps.appName);
      const csv = await periodCsv(deps.violations, s.site, p, deps.pseudonymFor);
      const mail = renderReport(s.site, s.every, p, summary, csv, t);
      const filename = `consultguard-${s.site.replace(/[^A-Za-z0-9._-]/g, '_')}-${s.every}-${p.firstDay}.csv`;
      await deps.mailer.send({ to: s.emails.join(', '), ...mail, attachments: [{ filename, content: csv.csv, contentType: 'text/csv; charset=utf-8' }] });
      await deps.reports.sent(s.id, p.key);
      deps.log.info({ report: s.id, site: s.site, period: p.key, violations: summary.total }, 'scheduled report sent');
    } catch (err) {
      const code = sendErrorCode(err);
      const run = await deps.reports.lastRun(s.id);
      // Back off 5 min, doubling to 6 h, per period.
      const retryIn = Math.min(6 * 3_600_000, 300_000 * 2 ** Math.min(run?.attempts ?? 0, 10));
      await deps.reports.failed(s.id, p.key, code, now() + retryIn);
      deps.log.warn({ report: s.id, site: s.site, period: p.key, code }, 'scheduled report not sent; will retry');
    }
  }

  let stopped = false;
  async function checkAll(): Promise<void> {
    try {
      for (const s of await deps.reports.list()) {
        if (stopped) return;
        await sendOne(s);
      }
    } catch (err) {
      deps.log.warn({ err }, 'report check failed; retrying at the next check');
    }
  }
  /** One pass at a time: a slow mail server never stacks passes. */
  function check(): Promise<void> {
    running ??= checkAll().finally(() => (running = null));
    return running;
  }

  return {
    check,
    start(): void {
      stopped = false;
      timer = setInterval(() => void check(), deps.checkMs);
      timer.unref();
      void check();
    },
    /** Stops the timer and waits for a send in progress (before the store closes). */
    async stop(): Promise<void> {
      stopped = true;
      if (timer) clearInterval(timer);
      timer = null;
      await running;
    },
  };
}
