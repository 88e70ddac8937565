/**
 * When to nudge: pure, with the clock injected. Fed the violation events the agent has
 * just written, it answers with what to do now, and `due()` answers what time alone makes
 * due (a reminder, closing the app in enforce mode).
 *
 * - One nudge when a violation starts (app opened or call joined, whichever is seen
 *   first): the moment a clinician can still switch before the patient is on the line.
 *   Waiting for `in-call` would nudge mid-consult, and call evidence can be missing
 *   (browser calls, TCP-only media).
 * - A reminder after `reminderMinutes` only while the call is live (state `in-call`);
 *   reminders skip the quiet period (they are explicitly configured) but count toward the cap.
 * - Nothing again for the same user and app within `quietMinutes`; at most `maxPerHour`
 *   nudges per user in any hour. Held-back nudges are reported as `suppressed` with why.
 * - `monitor` mode: never nudges; each started violation is reported `suppressed`
 *   ("monitor mode"), as the protocol defines, so leads see nudges were off, not failing.
 * - Outside consult hours or for approved apps: nothing at all (no events exist then).
 * - `enforce`: `enforceGraceSeconds` after the clinician was shown the nudge (which says
 *   the app will be closed), a still-open violation is closed. A violation held back by
 *   the quiet period is closed too when that earlier nudge for the same app was shown.
 *   A nudge nobody saw (no helper) never leads to closing an app mid-consult.
 * State is in memory: after an agent restart, violations still open are not nudged again.
 */
import { isWithinConsultHours } from '../../shared/hours.js';
import { zoneLocalTime } from '../../shared/zone-clock.js';
import type { EffectivePolicy } from '../../shared/policy.js';
import type { Event } from '../../shared/protocol.js';

export type RulesPolicy = Pick<EffectivePolicy, 'mode' | 'nudge' | 'approved' | 'timezone' | 'consultHours' | 'closures'>;

export interface Tracked {
  violationId: string;
  app: string;
  user?: string;
  state: Event['state'];
  pids: number[];
  nudgedAt: number | null;
  reminded: boolean;
  enforceAt: number | null;
  closed: boolean;
}

export type Action =
  | { kind: 'nudge'; violation: Tracked; reminder: boolean }
  | { kind: 'suppress'; violation: Tracked; reason: string }
  | { kind: 'close'; violation: Tracked };

const HOUR = 3_600_000;
const MINUTE = 60_000;

export function createNudgeRules(now: () => Date) {
  const open = new Map<string, Tracked>();
  /** Last nudge per user+app: when, and whether the clinician saw it. */
  const last = new Map<string, { at: number; shown: boolean; violationId: string }>();
  /** Nudge times per user in the last hour (the cap). */
  const sent = new Map<string, number[]>();

  const userOf = (v: Tracked) => v.user ?? '';
  const pairOf = (v: Tracked) => `${userOf(v)}\u0000${v.app}`;
  const snapshot = (v: Tracked): Tracked => ({ ...v, pids: [...v.pids] });

  function recentSends(user: string, t: number): number[] {
    const list = (sent.get(user) ?? []).filter((at) => t - at < HOUR);
    sent.set(user, list);
    return list;
  }

  function reminderDueAt(v: Tracked, p: RulesPolicy): number | null {
    if (p.mode === 'monitor' || p.nudge.reminderMinutes === 0 || v.nudgedAt === null || v.reminded || v.state !== 'in-call') return null;
    return v.nudgedAt + p.nudge.reminderMinutes * MINUTE;
  }

  function onStarted(v: Tracked, p: RulesPolicy, t: number): Action[] {
    if (p.mode === 'monitor') return [{ kind: 'suppress', violation: snapshot(v), reason: 'monitor mode: this policy records only and never nudges' }];
    const prev = last.get(pairOf(v));
    if (prev && t - prev.at < p.nudge.quietMinutes * MINUTE) {
      if (p.mode === 'enforce' && prev.shown) v.enforceAt = t + p.nudge.enforceGraceSeconds * 1000;
      const ago = Math.max(1, Math.round((t - prev.at) / MINUTE));
      return [{ kind: 'suppress', violation: snapshot(v), reason: `quiet period: this user was nudged about ${v.app} ${ago} min ago (quietMinutes ${p.nudge.quietMinutes})` }];
    }
    const recent = recentSends(userOf(v), t);
    if (recent.length >= p.nudge.maxPerHour) {
      return [{ kind: 'suppress', violation: snapshot(v), reason: `hourly cap: ${recent.length} nudge(s) to this user in the last hour (maxPerHour ${p.nudge.maxPerHour})` }];
    }
    recent.push(t);
    v.nudgedAt = t;
    last.set(pairOf(v), { at: t, shown: false, violationId: v.violationId });
    return [{ kind: 'nudge', violation: snapshot(v), reminder: false }];
  }

  return {
    /** What the events just written call for now. */
    onEvent(e: Event, p: RulesPolicy): Action[] {
      const t = now().getTime();
      if (e.kind === 'ended') {
        open.delete(e.violationId);
        return [];
      }
      if (p.approved.apps.includes(e.app)) return [];
      let v = open.get(e.violationId);
      if (v) {
        v.state = e.state;
        v.pids = [...e.pids];
        if (!v.user && e.user) v.user = e.user;
        return this.due(p); // a call going live may make a reminder due
      }
      v = { violationId: e.violationId, app: e.app, state: e.state, pids: [...e.pids], nudgedAt: null, reminded: false, enforceAt: null, closed: false };
      if (e.user) v.user = e.user;
      open.set(e.violationId, v);
      // An `updated` for a violation opened before an agent restart: tracked, not nudged again.
      if (e.kind !== 'started' || !isWithinConsultHours(p, now(), zoneLocalTime)) return [];
      return onStarted(v, p, t);
    },

    /** Reminders and closures whose time has come. */
    due(p: RulesPolicy): Action[] {
      const t = now().getTime();
      const out: Action[] = [];
      for (const v of open.values()) {
        const remindAt = reminderDueAt(v, p);
        if (remindAt !== null && t >= remindAt) {
          v.reminded = true;
          const recent = recentSends(userOf(v), t);
          if (recent.length >= p.nudge.maxPerHour) {
            out.push({ kind: 'suppress', violation: snapshot(v), reason: `reminder held back by the hourly cap (maxPerHour ${p.nudge.maxPerHour})` });
          } else {
            recent.push(t);
            out.push({ kind: 'nudge', violation: snapshot(v), reminder: true });
          }
        }
        if (p.mode === 'enforce' && v.enforceAt !== null && !v.closed && t >= v.enforceAt) {
          v.closed = true;
          out.push({ kind: 'close', violation: snapshot(v) });
        }
      }
      return out;
    },

    /** When `due()` next has something to do (ms since the epoch), or null. */
    nextDueAt(p: RulesPolicy): number | null {
      let next: number | null = null;
      const consider = (at: number | null) => {
        if (at !== null && (next === null || at < next)) next = at;
      };
      for (const v of open.values()) {
        consider(reminderDueAt(v, p));
        if (p.mode === 'enforce' && !v.closed) consider(v.enforceAt);
      }
      return next;
    },

    /** The clinician was shown the nudge: in enforce mode the grace period starts now. */
    shown(violationId: string, p: RulesPolicy): void {
      const v = open.get(violationId);
      if (!v) return;
      const prev = last.get(pairOf(v));
      if (prev?.violationId === violationId) prev.shown = true;
      if (p.mode === 'enforce' && v.enforceAt === null) v.enforceAt = now().getTime() + p.nudge.enforceGraceSeconds * 1000;
    },

    /** The first nudge reached nobody: it does not start a quiet period or count toward the cap. */
    failed(violationId: string): void {
      const v = open.get(violationId);
      if (!v || v.nudgedAt === null) return;
      const pair = pairOf(v);
      if (last.get(pair)?.violationId === violationId) last.delete(pair);
      const list = sent.get(userOf(v)) ?? [];
      const i = list.indexOf(v.nudgedAt);
      if (i >= 0) list.splice(i, 1);
    },

    open: (): Tracked[] => [...open.values()].map(snapshot),
  };
}

export type NudgeRules = ReturnType<typeof createNudgeRules>;
