/**
 * What a new alert rule may be, checked once at the edge (CLI and API share it), and how
 * a rule is shown back: webhook secrets never, Slack and Teams URLs (themselves credentials)
 * cut to their host and last characters.
 */
import { ALERT_CHANNEL_KINDS, ALERT_EVENT_NAMES, NewRule, type AlertRuleCreated, type AlertRuleView } from '../../shared/api-types.js';
import { AppError } from '../../shared/errors.js';
import { ALERT_EVENTS, CHANNEL_KINDS, newWebhookSecret, type AlertRule, type Channel } from '../store/alerts.js';

// The schema lives in shared/ (the OpenAPI document describes it); CLI and API import it from here.
export { NewRule };

// The store's lists and the API's must name the same events and channels: a compile error when one grows alone.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const sameEvents: Same<(typeof ALERT_EVENTS)[number], (typeof ALERT_EVENT_NAMES)[number]> = true;
const sameKinds: Same<(typeof CHANNEL_KINDS)[number], (typeof ALERT_CHANNEL_KINDS)[number]> = true;
void sameEvents;
void sameKinds;

/** The rule to store, with a generated secret for each webhook given without one. */
export function ruleFrom(input: NewRule, createdBy: string): Omit<AlertRule, 'id' | 'createdAt'> {
  const channels: Channel[] = [
    ...input.webhook.map((w) => ({ kind: 'webhook' as const, target: w.url, secret: w.secret ?? newWebhookSecret() })),
    ...input.teams.map((target) => ({ kind: 'teams' as const, target })),
    ...input.slack.map((target) => ({ kind: 'slack' as const, target })),
    ...input.email.map((target) => ({ kind: 'email' as const, target })),
  ];
  if (channels.length === 0) throw new AppError('bad_request', 'an alert rule needs at least one channel: --webhook URL, --teams URL, --slack URL or --email ADDRESS');
  if (input.on === 'repeat' && input.threshold === undefined) input.threshold = 3;
  if (input.on !== 'repeat' && input.threshold !== undefined) throw new AppError('bad_request', '--threshold applies to "repeat" rules only');
  return { on: input.on, threshold: input.threshold ?? null, site: input.site ?? null, channels, createdBy };
}

/** A URL as safe to show: scheme, host and path start; no query, no token-bearing tail. */
export function maskUrl(raw: string, kind: Channel['kind']): string {
  try {
    const u = new URL(raw);
    if (kind === 'webhook') return `${u.protocol}//${u.host}${u.pathname}`;
    return `${u.protocol}//${u.host}/…${raw.slice(-4)}`;
  } catch {
    return '(invalid URL)';
  }
}

/** A rule as the API and CLI show it (shared/api-types.ts AlertRuleView). */
export type RuleView = AlertRuleView;

export function ruleView(r: AlertRule): RuleView {
  return {
    id: r.id, on: r.on, threshold: r.threshold, site: r.site,
    channels: r.channels.map((c, index) => ({ index, kind: c.kind, target: c.kind === 'email' ? c.target : maskUrl(c.target, c.kind), ...(c.kind === 'webhook' ? { signed: Boolean(c.secret) } : {}) })),
    createdAt: new Date(r.createdAt).toISOString(), createdBy: r.createdBy,
  };
}

/** The webhook secrets of a rule just created: shown once, to the one who created it. */
export const createdSecrets = (r: AlertRule): AlertRuleCreated['secrets'] =>
  r.channels.flatMap((c, index) => (c.kind === 'webhook' && c.secret ? [{ index, secret: c.secret }] : []));
