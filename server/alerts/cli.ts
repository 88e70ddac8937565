/**
 * `consultguard-server alert ...` and `report ...`: rules and schedules written straight to
 * the store (the server may be running: it sees the change at its next batch, through the
 * store's change feed, with no restart; every instance does). Every change is audited as `cli:<OS user>`.
 * `alert test ID` sends from this process, with the same --smtp-url / --mail-from options
 * (or environment) as the server, and prints how each channel went.
 */
import { parseCommandLine, resolveConfig, type OptionSpec } from '../../shared/config.js';
import { AppError } from '../../shared/errors.js';
import { firstIssue } from '../../shared/zod-errors.js';
import { ServerConfig, SERVER_OPTIONS } from '../config.js';
import { NewReport } from '../reports/schedule.js';
import { cliActor } from '../store/audit.js';
import type { Store } from '../store/types.js';
import { withStore as withCliStore } from '../cli-store.js';
import { createdSecrets, NewRule, ruleFrom, ruleView } from './rules.js';
import { createMailer, createSender, sendErrorCode } from './send.js';
import { testMessage } from './message.js';
import { defaultMailFrom } from './index.js';

const OPTIONS: OptionSpec[] = SERVER_OPTIONS.filter((o) => o.key === 'dataDir' || o.key === 'database' || o.key === 'smtpUrl' || o.key === 'mailFrom');
type Out = (line: string) => void;

export const ALERT_USAGE = `  alert add --on in-call|silent-agent|repeat|policy-error [--webhook URL [--webhook-secret S]] [--teams URL] [--slack URL] [--email ADDR] [--site S] [--threshold N]
                                                 an alert rule, in force at once on running servers (repeat: N violations by one clinician in 7 days, default 3)
  alert list                                     rules and their channels (never a secret)
  alert remove ID                                delete a rule (its queued deliveries are dropped)
  alert test ID                                  send a test message on each channel of a rule now (--smtp-url for email)
  report add --every weekly|monthly --site S --email ADDR   the report page by mail with the period's CSV
  report list                                    schedules and their last run
  report remove ID                               delete a schedule`;

const withStore = <T>(values: Record<string, unknown>, fn: (store: Store) => Promise<T>): Promise<T> => withCliStore(values, OPTIONS, fn);

function parseInput<T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: import('zod').ZodError } }, input: unknown, flag: (path: readonly PropertyKey[]) => string): T {
  const r = schema.safeParse(input);
  if (!r.success) {
    const issue = firstIssue(r.error);
    throw new AppError('bad_option', `${flag(issue.path)}: ${r.error.issues[0]?.message ?? 'invalid'}`);
  }
  return r.data;
}

const ALERT_FLAGS = { on: 'string', webhook: 'string', 'webhook-secret': 'string', teams: 'string', slack: 'string', email: 'string', site: 'string', threshold: 'string' } as const;

async function alertAdd(argv: string[], out: Out): Promise<void> {
  const { values } = parseCommandLine(argv, OPTIONS, { ...ALERT_FLAGS });
  const str = (k: string) => values[k] as string | undefined;
  if (str('webhook-secret') !== undefined && str('webhook') === undefined) throw new AppError('bad_option', '--webhook-secret goes with --webhook URL');
  const threshold = str('threshold');
  if (threshold !== undefined && !/^\d{1,4}$/.test(threshold)) throw new AppError('bad_option', `--threshold: expected a whole number of violations (2 or more), got "${threshold}"`);
  const input = {
    on: str('on'),
    ...(threshold !== undefined ? { threshold: Number(threshold) } : {}),
    ...(str('site') !== undefined ? { site: str('site') } : {}),
    webhook: str('webhook') !== undefined ? [{ url: str('webhook'), ...(str('webhook-secret') !== undefined ? { secret: str('webhook-secret') } : {}) }] : [],
    teams: str('teams') !== undefined ? [str('teams')] : [],
    slack: str('slack') !== undefined ? [str('slack')] : [],
    email: str('email') !== undefined ? [str('email')] : [],
  };
  const parsed = parseInput(NewRule, input, (path) => {
    const key = String(path[0] ?? '');
    return key === 'webhook' && path[2] === 'secret' ? '--webhook-secret' : `--${key}`;
  });
  const given = Boolean(str('webhook-secret'));
  let rule;
  try {
    rule = ruleFrom(parsed, cliActor());
  } catch (err) {
    if (err instanceof AppError) throw new AppError('bad_option', err.message);
    throw err;
  }
  await withStore(values, async (s) => {
    const created = await s.alerts.addRule(rule);
    const view = ruleView(created);
    await s.audit.record(cliActor(), 'alert-add', { id: created.id, on: created.on, site: created.site, channels: view.channels });
    await s.changes.notify('alerts', created.id);
    out(`alert ${created.id} added: on ${created.on}${created.site ? ` at site ${created.site}` : ''}${created.threshold ? ` (${created.threshold} in 7 days)` : ''} -> ${view.channels.map((c) => `${c.kind} ${c.target}`).join(', ')}`);
    // A secret we made is shown this once, so the receiver can be set to verify signatures.
    if (created.channels.some((c) => c.kind === 'email')) out('email is sent through the server\'s --smtp-url (CONSULTGUARD_SMTP_URL); "alert test ID" checks it');
    if (!given) for (const sec of createdSecrets(created)) out(`webhook secret (shown once; the receiver checks x-consultguard-signature with it): ${sec.secret}`);
  });
}

async function alertTest(argv: string[], out: Out): Promise<number | void> {
  const { values, positionals } = parseCommandLine(argv, OPTIONS);
  const id = positionals[0];
  if (!id) throw new AppError('bad_option', 'alert test: expected the rule id (see "alert list")');
  const config = resolveConfig(ServerConfig, OPTIONS, values, process.env);
  const rule = await withStore(values, (s) => s.alerts.rule(id));
  if (!rule) throw new AppError('bad_option', `alert test: no rule ${id} (see "alert list")`);
  const mailer = createMailer({ url: config.smtpUrl, from: config.mailFrom ?? defaultMailFrom() }, config.alerts.timeoutMs);
  const sender = createSender(mailer, config.alerts.timeoutMs);
  const view = ruleView(rule);
  let failed = 0;
  try {
    for (const [i, c] of rule.channels.entries()) {
      const shown = `${c.kind} ${view.channels[i]?.target ?? ''}`;
      try {
        await sender.send(c, testMessage(rule.id, rule.on, Date.now()));
        out(`${shown}: ok`);
      } catch (err) {
        failed++;
        const code = sendErrorCode(err);
        out(`${shown}: failed (${code})${code === 'NO_SMTP' ? '; give --smtp-url smtp://HOST:PORT (or CONSULTGUARD_SMTP_URL)' : ''}`);
      }
    }
  } finally {
    mailer.close();
  }
  await withStore(values, (s) => s.audit.record(cliActor(), 'alert-test', { id, failed }));
  return failed ? 1 : undefined;
}

/** Runs `alert ...` / `report ...`; answers the exit status (undefined: 0). */
export async function runAlertCli(argv: string[], out: Out): Promise<number | void> {
  const [cmd, sub, ...rest] = argv;
  const key = `${cmd} ${sub ?? ''}`.trim();
  switch (key) {
    case 'alert add':
      return alertAdd(rest, out);
    case 'alert list': {
      const { values } = parseCommandLine(rest, OPTIONS);
      await withStore(values, async (s) => {
        for (const r of (await s.alerts.rules()).map(ruleView)) {
          out(`${r.id}  on=${r.on}${r.threshold ? `  threshold=${r.threshold}` : ''}  site=${r.site ?? '*'}  channels=${r.channels.map((c) => `${c.kind}:${c.target}${c.signed ? '(signed)' : ''}`).join(',')}  created=${r.createdAt} by ${r.createdBy}`);
        }
      });
      return;
    }
    case 'alert remove': {
      const { values, positionals } = parseCommandLine(rest, OPTIONS);
      const id = positionals[0];
      if (!id) throw new AppError('bad_option', 'alert remove: expected the rule id (see "alert list")');
      await withStore(values, async (s) => {
        if (!await s.alerts.removeRule(id)) throw new AppError('bad_option', `alert remove: no rule ${id} (see "alert list")`);
        await s.audit.record(cliActor(), 'alert-remove', { id });
        await s.changes.notify('alerts', id);
      });
      out(`alert ${id} removed`);
      return;
    }
    case 'alert test':
      return alertTest(rest, out);
    case 'report add': {
      const { values } = parseCommandLine(rest, OPTIONS, { every: 'string', site: 'string', email: 'string' });
      const email = values.email as string | undefined;
      const input = parseInput(NewReport, { every: values.every, site: values.site, email: email === undefined ? [] : email.split(',').map((e) => e.trim()) }, (path) => `--${String(path[0] ?? '')}`);
      await withStore(values, async (s) => {
        const created = await s.reports.add({ every: input.every, site: input.site, emails: input.email, createdBy: cliActor() });
        await s.audit.record(cliActor(), 'report-add', { id: created.id, every: created.every, site: created.site, email: created.emails });
        out(`report ${created.id} added: ${created.every} for site ${created.site} to ${created.emails.join(', ')} (the period that ended last goes out within a minute)`);
      });
      return;
    }
    case 'report list': {
      const { values } = parseCommandLine(rest, OPTIONS);
      await withStore(values, async (s) => {
        for (const r of await s.reports.list()) {
          const last = await s.reports.lastRun(r.id);
          out(`${r.id}  every=${r.every}  site=${r.site}  email=${r.emails.join(',')}  last=${last ? `${last.period} ${last.state}${last.last_error ? ` (${last.last_error})` : ''}` : '-'}`);
        }
      });
      return;
    }
    case 'report remove': {
      const { values, positionals } = parseCommandLine(rest, OPTIONS);
      const id = positionals[0];
      if (!id) throw new AppError('bad_option', 'report remove: expected the schedule id (see "report list")');
      await withStore(values, async (s) => {
        if (!await s.reports.remove(id)) throw new AppError('bad_option', `report remove: no schedule ${id} (see "report list")`);
        await s.audit.record(cliActor(), 'report-remove', { id });
      });
      out(`report ${id} removed`);
      return;
    }
    default:
      throw new AppError('bad_option', `unknown command "${key}"; run --help for the commands`);
  }
}
