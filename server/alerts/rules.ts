/**
 * What a new alert rule may be, checked once at the edge (CLI and API share it), and how
 * a rule is shown back: webhook secrets never, Slack and Teams URLs (themselves credentials)
 * cut to their host and last characters.
 */
import { z } from 'zod';
import { AppError } from '../../shared/errors.js';
import { ALERT_EVENTS, newWebhookSecret, type AlertRule, type Channel } from '../store/alerts.js';

const HttpUrl = (what: string) => z.string().max(2000).refine((s) => {
  try {
    const u = new URL(s);
    return (u.protocol === 'https:' || u.protocol === 'http:') && u.hostname !== '';
  } catch {
    return false;
  }
}, { message: `expected an http(s) URL for ${what}, such as https://hooks.example.org/consultguard` });

const Email = z.string().max(320).regex(/^[^\s@<>,;"]+@[^\s@<>,;"]+\.[^\s@<>,;"]+$/, 'expected an email address such as it-security@clinic.example');

export const NewRule = z.object({
  on: z.enum(ALERT_EVENTS, { message: `expected one of ${ALERT_EVENTS.join(', ')}` }),
  threshold: z.number().int().min(2).max(1000).optional(),
  site: z.string().min(1).max(128).optional(),
  webhook: z.array(z.object({ url: HttpUrl('--webhook'), secret: z.string().min(16, 'a webhook secret needs at least 16 characters').max(512).optional() })).default([]),
  teams: z.array(HttpUrl('--teams')).default([]),
  slack: z.array(HttpUrl('--slack')).default([]),
  email: z.array(Email).default([]),
}).strict();
export type NewRule = z.infer<typeof NewRule>;

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

export interface RuleView {
  id: string;
  on: AlertRule['on'];
  threshold: number | null;
  site: string | null;
  channels: Array<{ index: number; kind: Channel['kind']; target: string; signed?: boolean }>;
  createdAt: string;
  createdBy: string;
}

export function ruleView(r: AlertRule): RuleView {
  return {
    id: r.id, on: r.on, threshold: r.threshold, site: r.site,
    channels: r.channels.map((c, index) => ({ index, kind: c.kind, target: c.kind === 'email' ? c.target : maskUrl(c.target, c.kind), ...(c.kind === 'webhook' ? { signed: Boolean(c.secret) } : {}) })),
    createdAt: new Date(r.createdAt).toISOString(), createdBy: r.createdBy,
  };
}

/** The webhook secrets of a rule just created: shown once, to the one who created it. */
export const createdSecrets = (r: AlertRule): Array<{ index: number; secret: string }> =>
  r.channels.flatMap((c, index) => (c.kind === 'webhook' && c.secret ? [{ index, secret: c.secret }] : []));
