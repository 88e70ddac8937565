/**
 * Policy files (written by IT staff, YAML or JSON) and the effective policy the server
 * hands each agent. A policy says which apps are watched, when (consult hours in an IANA
 * time zone), which app is approved, and how the clinician is nudged.
 */
import * as z from 'zod';
import { AppId, CatalogApp, Browser } from './catalog.js';

export const Weekday = z.enum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']);
export type Weekday = z.infer<typeof Weekday>;

const HHMM = z
  .string()
  .regex(/^([01]\d|2[0-3]):[0-5]\d$|^24:00$/, 'expected a time as HH:MM (24-hour), e.g. "08:00"');

const IsoDate = z
  .union([z.string(), z.date()])
  .transform((v) => (typeof v === 'string' ? v : v.toISOString().slice(0, 10)))
  .refine((s) => /^\d{4}-\d{2}-\d{2}$/.test(s), { message: 'expected a date as YYYY-MM-DD' });

let canonicalZones: Set<string> | undefined;

/**
 * Canonical zone names come from `Intl.supportedValuesOf`, which costs the agent next to
 * nothing; only a name not in that list (an alias such as "Asia/Calcutta") is tried on
 * an `Intl.DateTimeFormat`, whose ICU formatting data add ~8 MB to a process for good
 * (shared/zone-clock.ts).
 */
function isValidTimeZone(tz: string): boolean {
  // The list leaves out UTC itself (V8 lists it under no name).
  canonicalZones ??= new Set([...Intl.supportedValuesOf('timeZone'), 'UTC', 'Etc/UTC', 'GMT', 'Etc/GMT']);
  if (canonicalZones.has(tz)) return true;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export const ConsultWindow = z
  .object({
    days: z.array(Weekday).min(1),
    from: HHMM,
    to: HHMM,
  })
  .refine((w) => w.from < w.to, { message: 'expected `from` before `to` within one day', path: ['to'] });
export type ConsultWindow = z.infer<typeof ConsultWindow>;

export const Mode = z.enum(['monitor', 'nudge', 'enforce']);

export const ApprovedApp = z.object({
  name: z.string().min(1),
  url: z.string().url(),
  /** Catalog ids that are approved here: never reported. */
  apps: z.array(AppId).default([]),
  /**
   * How the nudge opens the approved app on each OS, when not by its URL: a Windows app
   * (e.g. an AppUserModelID or an .exe path), a macOS bundle id or app name, a Linux
   * .desktop id or command. Missing: the URL opens in the default browser.
   */
  open: z.object({ win32: z.string().min(1).optional(), darwin: z.string().min(1).optional(), linux: z.string().min(1).optional() }).default({}),
  /**
   * Approved-app readiness (agent/readiness.ts): check the launch target or web address
   * before consult hours (missing: true). `false` where workstations reach the web only through a proxy the
   * agent service cannot use (the check would report a working app as down).
   */
  check: z.boolean().optional(),
});

export const NudgeSettings = z.object({
  title: z.string().default('Please use {approved} for patient consults'),
  message: z
    .string()
    .default('{app} is not approved for consults at this clinic. Open {approved} to continue the consult securely.'),
  /** A reminder this long after the first nudge if the call is still live (0: none). */
  reminderMinutes: z.number().int().min(0).default(0),
  /** No second nudge for the same app and user within this many minutes. */
  quietMinutes: z.number().int().min(0).default(30),
  maxPerHour: z.number().int().min(0).default(2),
  /** enforce mode: seconds between the nudge and closing the app. */
  enforceGraceSeconds: z.number().int().min(10).default(120),
  /** What ConsultGuard monitors and why (shown to clinicians). */
  aboutUrl: z.string().url().optional(),
});

/**
 * What leaves the workstation (issue 14: privacy by design). Enforced by the agent before
 * an event or nudge outcome is queued (agent/privacy/redact.ts), so the server never holds
 * what the clinic chose not to collect.
 * - `userNames`: `full` sends the process owner's account name; `hashed` sends
 *   `h:<hex>` = HMAC-SHA256(hashKey, name), stable per deployment so the server can
 *   pseudonymise and count, but cannot turn back into a name.
 * - `commandLines` / URLs: never sent. Evidence names the rule that matched, never a link.
 * - `evidence`: `full` (each signal with process name, pid, address) or `summary` (only the
 *   kind of signal: "camera in use by the app", "network flow to the app's media range").
 * - `hostname`: `full` (FQDN as the OS says), `short` (up to the first dot) or `hashed`.
 */
export const Collection = z
  .object({
    userNames: z.enum(['full', 'hashed']).default('full'),
    commandLines: z.literal('never').default('never'),
    evidence: z.enum(['full', 'summary']).default('full'),
    hostname: z.enum(['full', 'short', 'hashed']).default('full'),
    /** Per-deployment secret for `hashed` (at least 16 characters); keep it out of version control. */
    hashKey: z.string().min(16, 'expected a secret of at least 16 characters').max(256).optional(),
  })
  .strict()
  .refine((c) => c.hashKey !== undefined || (c.userNames !== 'hashed' && c.hostname !== 'hashed'), {
    message: 'expected `hashKey` (a per-deployment secret) when userNames or hostname is "hashed"',
    path: ['hashKey'],
  });
export type Collection = z.infer<typeof Collection>;
export const DEFAULT_COLLECTION: Collection = { userNames: 'full', commandLines: 'never', evidence: 'full', hostname: 'full' };

/** What clinicians are told in "What ConsultGuard sees" (agent/privacy/describe.ts). */
export const Transparency = z
  .object({
    /** Whom to ask (privacy officer, works council contact): a name, mail or phone. */
    contact: z.string().min(1).max(300).default('your clinic\'s privacy officer'),
    /** Who sees the records. */
    seenBy: z.string().min(1).max(500).default('the clinic\'s security leads, on the ConsultGuard dashboard'),
    /** How long records are kept, in words (match the server's --retention-days). */
    retention: z.string().min(1).max(500).default('365 days, then deleted'),
  })
  .strict();
export type Transparency = z.infer<typeof Transparency>;

/** Clinician exceptions: "I need this app for this consult", time-boxed, with a reason from this list. */
export const ExceptionReason = z.object({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,40}$/, 'expected a short id of lowercase letters, digits and dashes'),
  label: z.string().min(1).max(120),
});
export const Exceptions = z
  .object({
    reasons: z.array(ExceptionReason).max(6).default([]),
    /** Longest window one claim opens; no nudges for that app and user meanwhile. */
    maxMinutes: z.number().int().min(1).max(24 * 60).default(60),
  })
  .strict();
export type Exceptions = z.infer<typeof Exceptions>;
export const DEFAULT_EXCEPTIONS: Exceptions = { reasons: [], maxMinutes: 60 };
export const DEFAULT_TRANSPARENCY: Transparency = Transparency.parse({});

/** A policy file as IT staff write it. */
export const PolicyFile = z
  .object({
    version: z.literal(1).default(1),
    name: z.string().regex(/^[A-Za-z0-9._-]+$/, 'expected a name of letters, digits, dot, dash or underscore'),
    description: z.string().optional(),
    default: z.boolean().default(false),
    assign: z.object({ sites: z.array(z.string()).default([]), groups: z.array(z.string()).default([]) }).default({ sites: [], groups: [] }),
    timezone: z.string().refine(isValidTimeZone, { message: 'expected an IANA time zone such as "Australia/Sydney"' }),
    consultHours: z.array(ConsultWindow).min(1),
    closures: z.array(IsoDate).default([]),
    monitor: z.union([z.literal('all'), z.array(AppId).min(1)]),
    approved: ApprovedApp,
    mode: Mode.default('nudge'),
    nudge: NudgeSettings.default({} as never),
    /** Policy-local catalog additions and overrides (same shape as a catalog file). */
    apps: z.array(CatalogApp).default([]),
    collection: Collection.default(DEFAULT_COLLECTION),
    transparency: Transparency.default(DEFAULT_TRANSPARENCY),
    exceptions: Exceptions.default(DEFAULT_EXCEPTIONS),
    agent: z
      .object({
        // Below 1 s only makes sense for tests and benchmarks (a simulated day in minutes).
        pollSeconds: z.number().min(0.05).max(300).default(5),
        endAfterMissedPolls: z.number().int().min(1).max(20).default(2),
      })
      .default({ pollSeconds: 5, endAfterMissedPolls: 2 }),
  })
  .strict();
export type PolicyFile = z.infer<typeof PolicyFile>;

/** What the server sends an agent: the policy with its catalog resolved. */
export const EffectivePolicy = z.object({
  version: z.string(),
  name: z.string(),
  timezone: z.string(),
  consultHours: z.array(ConsultWindow),
  closures: z.array(z.string()),
  monitor: z.array(AppId),
  approved: ApprovedApp,
  mode: Mode,
  nudge: NudgeSettings,
  agent: z.object({ pollSeconds: z.number(), endAfterMissedPolls: z.number().int() }),
  // Defaults keep a policy cached by an older agent, or sent by an older server, readable.
  collection: Collection.default(DEFAULT_COLLECTION),
  transparency: Transparency.default(DEFAULT_TRANSPARENCY),
  exceptions: Exceptions.default(DEFAULT_EXCEPTIONS),
  catalog: z.object({ apps: z.array(CatalogApp), browsers: z.array(Browser) }),
});
export type EffectivePolicy = z.infer<typeof EffectivePolicy>;
