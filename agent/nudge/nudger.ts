/**
 * The agent's nudge loop: the events just written go through the rules; nudges go to the
 * owning user's helper; every outcome (shown, clicked, dismissed, suppressed, app-closed,
 * failed) is queued in the outbox behind the events and flushed to the server.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../../shared/log.js';
import type { EffectivePolicy } from '../../shared/policy.js';
import type { Event, NudgeOutcome } from '../../shared/protocol.js';
import type { Outbox } from '../outbox.js';
import type { Transport } from '../transport.js';
import { closeProcesses, type CloseResult } from './enforce.js';
import { readProcessIdentities, type ProcessIdentity } from './process-identity.js';
import { detailOf } from './errors.js';
import { deliverNudge } from './ipc-client.js';
import type { HelperException, HelperOutcome, NudgeRequest } from '../../shared/ipc.js';
import type { Exceptions } from './exceptions.js';
import { renderNudge } from './message.js';
import { createNudgeRules, type Action, type Tracked } from './rules.js';
import { createUserResolver } from './users.js';

export type Deliver = (user: string, request: NudgeRequest, onOutcome: (o: HelperOutcome) => void, signal: AbortSignal, onException?: (x: HelperException) => void) => Promise<void>;

export interface NudgerOptions {
  /** The rendezvous root (agentNudgeRoot in rendezvous.ts). */
  root: string;
  outbox: Pick<Outbox, 'appendNudges'>;
  transport: Pick<Transport, 'flush'>;
  policy: () => EffectivePolicy | null;
  log: Logger;
  now?: () => Date;
  platform?: NodeJS.Platform;
  deliver?: Deliver;
  close?: (targets: ProcessIdentity[]) => Promise<CloseResult>;
  /** Start time and executable of pids (enforce mode records them when the app is detected). */
  identify?: (pids: number[]) => Promise<Map<number, ProcessIdentity>>;
  /** Clinician exceptions: no nudge (nor closing) inside a claimed window. */
  exceptions?: Pick<Exceptions, 'active' | 'claim'>;
  /** Extra fields of every nudge: exception reasons, "What ConsultGuard sees". */
  extras?: (policy: EffectivePolicy) => Pick<NudgeRequest, 'exceptions' | 'sees'>;
  /** A line added to the nudge's message (e.g. the approved app is not reachable). */
  notice?: () => string | null;
}

export function createNudger(opts: NudgerOptions) {
  const now = opts.now ?? (() => new Date());
  const platform = opts.platform ?? process.platform;
  const rules = createNudgeRules(now);
  const root = opts.root;
  const resolveUser = createUserResolver();
  const deliver: Deliver = opts.deliver ?? ((user, request, onOutcome, signal, onException) => deliverNudge({ root, user, request, onOutcome, onException, resolveUser, signal, platform }));
  const close = opts.close ?? ((targets: ProcessIdentity[]) => closeProcesses(targets, { platform }));
  const identify = opts.identify ?? ((pids: number[]) => readProcessIdentities(pids, platform));
  /** Enforce mode: what each violation's pids were when its latest event was recorded (the detecting poll). */
  const seenAs = new Map<string, Promise<ProcessIdentity[]>>();
  const identifyAll = async (pids: number[]) => [...(await identify(pids)).values()];
  const inFlight = new Set<AbortController>();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  function report(v: Tracked, outcome: NudgeOutcome['outcome'], detail?: string): void {
    const record: NudgeOutcome = { id: randomUUID(), violationId: v.violationId, app: v.app, outcome, at: now().toISOString() };
    if (v.user) record.user = v.user;
    if (detail) record.detail = detail.slice(0, 512);
    try {
      opts.outbox.appendNudges([record]);
      opts.transport.flush();
    } catch (err) {
      opts.log.error({ err, outcome }, 'cannot write a nudge outcome to the outbox; free disk space in the state folder');
    }
  }

  async function nudge(v: Tracked, reminder: boolean, policy: EffectivePolicy): Promise<void> {
    if (!v.user) {
      rules.failed(v.violationId);
      return report(v, 'failed', 'unknown_user: the process owner is not known, so there is no session to nudge');
    }
    const rendered = renderNudge(policy, { id: randomUUID(), app: v.app, reminder, platform });
    const notice = opts.notice?.();
    const request: NudgeRequest = { ...rendered, ...(notice ? { message: `${rendered.message} ${notice}`.slice(0, 1000) } : {}), app: v.app, ...(opts.extras?.(policy) ?? {}) };
    const abort = new AbortController();
    inFlight.add(abort);
    let shown = false;
    try {
      await deliver(v.user, request, (o) => {
        if (o.outcome === 'shown') {
          shown = true;
          const current = opts.policy();
          if (current) rules.shown(v.violationId, current);
          schedule();
        }
        report(v, o.outcome, o.detail);
      }, abort.signal, (x) => {
        if (!v.user) return;
        try {
          opts.exceptions?.claim({ user: v.user, app: v.app, reason: x.reason, minutes: x.minutes, violationId: v.violationId });
        } catch (err) {
          opts.log.warn({ app: v.app, detail: detailOf(err) }, 'exception claimed from a nudge refused');
        }
      });
    } catch (err) {
      if (stopped) return;
      opts.log.warn({ app: v.app, user: v.user, detail: detailOf(err) }, 'nudge not delivered');
      if (!shown) {
        if (!reminder) rules.failed(v.violationId);
        report(v, 'failed', detailOf(err));
      }
    } finally {
      inFlight.delete(abort);
    }
  }

  async function closeApp(v: Tracked): Promise<void> {
    // Normally recorded at detection. Missing only when enforce began, or the agent
    // restarted, after the app was detected: then the still-open violation means the last
    // poll (seconds ago) saw these pids, and that is what gets checked before each signal.
    const recorded = await (seenAs.get(v.violationId) ?? identifyAll(v.pids));
    const result = await close(recorded.filter((r) => v.pids.includes(r.pid)));
    if (result.changed.length > 0) report(v, 'failed', `enforce: pid(s) ${result.changed.join(', ')} no longer the app the detector saw (reused or replaced); left alone`);
    opts.log.info({ app: v.app, user: v.user, ...result }, 'enforce mode: closed the app after the nudge and grace period');
    if (result.closed.length > 0) report(v, 'app-closed', `closed pid(s) ${result.closed.join(', ')}${result.survivors.length ? `; still running: ${result.survivors.join(', ')}` : ''}`);
    else if (result.survivors.length > 0) report(v, 'failed', `enforce: could not close pid(s) ${result.survivors.join(', ')}`);
  }

  function act(actions: Action[], policy: EffectivePolicy): void {
    for (const a of actions) {
      const x = a.kind === 'suppress' ? null : opts.exceptions?.active(a.violation.user, a.violation.app);
      if (x) {
        report(a.violation, 'suppressed', `exception claimed: ${x.label} (until ${new Date(x.until).toISOString()})`);
        continue;
      }
      if (a.kind === 'suppress') report(a.violation, 'suppressed', a.reason);
      else if (a.kind === 'nudge') void nudge(a.violation, a.reminder, policy);
      else void closeApp(a.violation);
    }
    schedule();
  }

  function schedule(): void {
    clearTimeout(timer);
    const policy = opts.policy();
    if (stopped || !policy) return;
    const next = rules.nextDueAt(policy);
    if (next === null) return;
    timer = setTimeout(() => {
      const current = opts.policy();
      if (current && !stopped) act(rules.due(current), current);
    }, Math.max(0, next - now().getTime()));
  }

  return {
    /** Called with the events just written to the outbox, in order. */
    onEvents(events: Event[]): void {
      const policy = opts.policy();
      if (!policy || stopped) return;
      for (const e of events) {
        if (e.kind === 'ended') seenAs.delete(e.violationId);
        else if (policy.mode === 'enforce') seenAs.set(e.violationId, identifyAll(e.pids));
      }
      act(events.flatMap((e) => rules.onEvent(e, policy)), policy);
    },
    stop(): void {
      stopped = true;
      clearTimeout(timer);
      for (const a of inFlight) a.abort();
    },
  };
}

export type Nudger = ReturnType<typeof createNudger>;
