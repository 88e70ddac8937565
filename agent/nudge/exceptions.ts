/**
 * Clinician exceptions on the agent: "I need this app for this consult", claimed from a
 * nudge (the helper's `exception` frame) or with `consultguard-agent exception` (the claim
 * channel, claim-server.ts). A claim names a reason from the policy's list and opens a
 * window of at most `exceptions.maxMinutes` in which that user is not nudged (nor, in
 * enforce mode, has the app closed) for that app. Each violation of that user and app
 * inside the window gets one `exception` outcome in the outbox (durable, acked like every
 * nudge outcome) so the lead sees "exception claimed: reason" and accepts or rejects it.
 * Open windows are saved in the agent's state folder (exceptions.json, agent/state.ts:
 * atomic rename, 0600, schema-checked on read) after every change, and reloaded at start
 * with the expired ones dropped, so an agent restart (crash, update, reboot) inside a window
 * neither ends it early nor reports its violations twice.
 */
import { randomUUID } from 'node:crypto';
import { AppError } from '../../shared/errors.js';
import type { EffectivePolicy } from '../../shared/policy.js';
import type { ExceptionWindow } from '../../shared/agent-state.js';
import type { Event, NudgeOutcome } from '../../shared/protocol.js';

export interface ActiveException {
  user: string;
  app: string;
  reason: string;
  label: string;
  until: number;
  /** Violations already reported under this window. */
  reported: Set<string>;
}

export interface ClaimInput {
  user: string;
  app: string;
  reason: string;
  /** Asked-for length; above the policy's maximum it is cut to it. Missing: the maximum. */
  minutes?: number;
  /** The violation the nudge was about, when claimed from a nudge. */
  violationId?: string;
}

export interface ExceptionsOptions {
  now: () => Date;
  policy: () => Pick<EffectivePolicy, 'exceptions' | 'monitor' | 'catalog'> | null;
  /** Queues an outcome for the server (the outbox, through the redactor). */
  report: (outcome: NudgeOutcome) => void;
  /** The open violations right now (lifecycle), to attach a claim made while the app runs. */
  open: () => Array<{ violationId: string; app: string; user?: string }>;
  /** Windows saved by an earlier run (expired ones are dropped here). */
  saved?: ExceptionWindow[];
  /** Persists the open windows; called after every change. Throwing is the caller's to report. */
  save?: (windows: ExceptionWindow[]) => void;
}

/** Reported ids kept per window in the file (a window sees a handful of violations). */
const MAX_REPORTED = 1000;

export function createExceptions(opts: ExceptionsOptions) {
  const active = new Map<string, ActiveException>();
  const key = (user: string, app: string) => `${user}\u0000${app}`;
  for (const w of opts.saved ?? []) {
    const until = Date.parse(w.until);
    if (until > opts.now().getTime()) active.set(key(w.user, w.app), { user: w.user, app: w.app, reason: w.reason, label: w.label, until, reported: new Set(w.reported) });
  }

  function persist(): void {
    const now = opts.now().getTime();
    opts.save?.([...active.values()].filter((x) => x.until > now).map((x) => ({
      user: x.user, app: x.app, reason: x.reason, label: x.label, until: new Date(x.until).toISOString(), reported: [...x.reported].slice(-MAX_REPORTED),
    })));
  }

  function send(x: ActiveException, violationId: string): void {
    if (x.reported.has(violationId)) return;
    x.reported.add(violationId);
    persist();
    opts.report({
      id: randomUUID(), violationId, app: x.app, user: x.user, outcome: 'exception', at: opts.now().toISOString(),
      reason: x.reason, until: new Date(x.until).toISOString(), detail: `exception claimed: ${x.label}`.slice(0, 512),
    });
  }

  function current(user: string | undefined, app: string): ActiveException | null {
    if (!user) return null;
    const x = active.get(key(user, app));
    if (!x) return null;
    if (x.until <= opts.now().getTime()) {
      active.delete(key(user, app));
      persist();
      return null;
    }
    return x;
  }

  return {
    /** Opens (or extends) a window; throws bad_request naming what is wrong. */
    claim(input: ClaimInput): ActiveException {
      const policy = opts.policy();
      if (!policy) throw new AppError('bad_request', 'the agent has no policy yet, so it knows no exception reasons; try again once it has connected to the server');
      const { reasons, maxMinutes } = policy.exceptions;
      if (reasons.length === 0) throw new AppError('bad_request', 'this clinic\'s policy allows no exceptions (exceptions.reasons is empty); ask your lead');
      const reason = reasons.find((r) => r.id === input.reason);
      if (!reason) throw new AppError('bad_request', `unknown reason "${input.reason}"; the policy's reasons: ${reasons.map((r) => r.id).join(', ')}`);
      if (!policy.monitor.includes(input.app)) throw new AppError('bad_request', `"${input.app}" is not an app this policy watches; watched: ${policy.monitor.join(', ')}`);
      const minutes = Math.min(maxMinutes, Math.max(1, Math.round(input.minutes ?? maxMinutes)));
      const until = opts.now().getTime() + minutes * 60_000;
      const prev = current(input.user, input.app);
      const x: ActiveException = { user: input.user, app: input.app, reason: reason.id, label: reason.label, until, reported: prev && prev.reason === reason.id ? prev.reported : new Set() };
      active.set(key(input.user, input.app), x);
      persist();
      const targets = new Set<string>(input.violationId ? [input.violationId] : []);
      for (const v of opts.open()) if (v.app === input.app && v.user === input.user) targets.add(v.violationId);
      for (const id of targets) send(x, id);
      return x;
    },
    /** The window in force for this user and app, if any. */
    active: current,
    /** Violations that start inside a window are reported under it. */
    onEvents(events: Event[]): void {
      for (const e of events) {
        if (e.kind === 'ended') continue;
        const x = current(e.user, e.app);
        if (x) send(x, e.violationId);
      }
    },
  };
}

export type Exceptions = ReturnType<typeof createExceptions>;
