/**
 * The alert engine: rules in force, triggers from ingest and the policy watcher, the
 * silent-agent check, and the delivery loop over the durable queue (store/alerts.ts).
 *
 * Ingest pays, when an event matches a rule, for one small insert per event (after the
 * ack): everything else (reading the violation, counting a clinician's week,
 * formatting, network) runs on a timer off the ingest path. A delivery is leased, sent
 * with a per-request timeout, and on failure retried with capped exponential back-off and
 * jitter, surviving restarts (it is a row); at most `concurrency` are in flight.
 *
 * Rules are re-read whenever the store's change feed says they may have changed (topic
 * `alerts`: `alert add` from the CLI, the API of this or another instance); with SQLite
 * that is checked before every batch, so a new rule is in force at the next batch.
 * Triggers are settled in one transaction with the alerts they fire, so two instances
 * never both send one; the silent-agent check and the prune are cluster jobs.
 */
import { createHash } from 'node:crypto';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { AlertTestChannel } from '../../shared/api-types.js';
import type { Event } from '../../shared/protocol.js';
import type { EffectivePolicy } from '../../shared/policy.js';
import type { Logger } from '../../shared/log.js';
import { agentView } from '../api/agents.js';
import { policyForAgent } from '../gateway/pinning.js';
import { createStreak } from '../health/streak.js';
import type { Violation } from '../../shared/api-types.js';
import type { AlertQueue, AlertRule, Firing, Store, Trigger } from '../store/types.js';
import { inCallMessage, policyErrorMessage, repeatMessage, silentMessage, testMessage, type AlertMessage, type ViolationFacts } from './message.js';
import type { PseudonymFor } from './pseudonym.js';
import { maskUrl } from './rules.js';
import { SendError, sendErrorCode, type Sender } from './send.js';

const DAY = 86_400_000;
const REPEAT_WINDOW = 7 * DAY;
/** As the fleet view: no word from an agent for 3 minutes during consult hours is silence. */
const SILENT_AFTER_MS = 3 * 60_000;

export interface AlertEngineOptions {
  tickMs: number;
  retryBaseMs: number;
  retryCapMs: number;
  maxAttempts: number;
  concurrency: number;
  timeoutMs: number;
  silentCheckMs: number;
}

export interface AlertEngineDeps {
  store: Pick<Store, 'violations' | 'agents' | 'changes' | 'jobs'>;
  alerts: AlertQueue;
  sender: Sender;
  pseudonymFor: PseudonymFor;
  appName: (app: string) => string;
  policyFor: (a: { site?: string | null; group?: string | null }) => EffectivePolicy;
  isOnline: (agentId: string) => boolean;
  /** Brings `isOnline` up to date for agents held by other instances (cluster presence), before the silent check. */
  refreshOnline?: () => Promise<void>;
  log: Logger;
  registry?: Registry;
  options: AlertEngineOptions;
  now?: () => number;
}

/** One channel's test outcome, as POST /api/alerts/:id/test answers it. */
export type TestResult = AlertTestChannel;

export function createAlertEngine(deps: AlertEngineDeps) {
  const { alerts, options: o, log } = deps;
  const now = deps.now ?? Date.now;
  const streak = createStreak(log, 'alert delivery');
  let rules: AlertRule[] = [];
  // Read at the first use and again after every change-feed notice.
  let stale = true;
  // Kept for the engine's life (a stopped engine may start again); the store's close ends it.
  deps.store.changes.subscribe('alerts', () => {
    stale = true;
  });
  let inFlight = 0;
  let ticking = false;
  let timer: NodeJS.Timeout | null = null;
  let kicked = false;
  let lastSilentCheck = 0;
  let lastPrune = 0;
  let stopped = false;
  const done = { delivered: 0, failed: 0 };
  const counts = { delivered: null as Counter | null, failed: null as Counter | null, attempts: null as Counter | null };

  if (deps.registry) {
    const registers = [deps.registry];
    new Gauge({ name: 'consultguard_alerts_queued', help: 'Alert deliveries waiting to be sent (all instances on this store)', registers, async collect() { this.set((await alerts.counts()).queued); } });
    counts.delivered = new Counter({ name: 'consultguard_alerts_delivered_total', help: 'Alert deliveries sent by this instance, by channel kind', labelNames: ['channel'], registers });
    counts.failed = new Counter({ name: 'consultguard_alerts_failed_total', help: 'Alert deliveries given up after the last retry, by channel kind', labelNames: ['channel'], registers });
    counts.attempts = new Counter({ name: 'consultguard_alert_attempts_failed_total', help: 'Failed alert delivery attempts (each is retried), by channel kind', labelNames: ['channel'], registers });
  }

  /** Re-reads the rules when the change feed said they may have changed. */
  async function refresh(): Promise<void> {
    if (!stale) return;
    stale = false;
    try {
      rules = await alerts.rules();
    } catch (err) {
      stale = true;
      throw err;
    }
  }
  const ruleOf = (id: string) => rules.find((r) => r.id === id) ?? null;

  /** Called right after a batch is stored and acked: cheap, and never rejects into ingest. */
  async function onIngest(agent: { agentId: string; site: string | null }, events: Event[]): Promise<void> {
    try {
      await refresh();
      if (rules.length === 0) return;
      const rows: Array<Omit<Trigger, 'seq'>> = [];
      for (const rule of rules) {
        if (rule.site !== null && rule.site !== agent.site) continue;
        const seen = new Set<string>();
        for (const e of events) {
          const match = rule.on === 'in-call' ? e.state === 'in-call' : rule.on === 'repeat' ? e.kind === 'started' && Boolean(e.user) : false;
          if (!match || seen.has(e.violationId)) continue;
          seen.add(e.violationId);
          rows.push({ ruleId: rule.id, agentId: agent.agentId, violationId: e.violationId, subject: null, detail: null, at: now() });
        }
      }
      if (rows.length) {
        await alerts.addTriggers(rows);
        kick();
      }
    } catch (err) {
      log.error({ err }, 'could not queue alert triggers for a stored batch');
    }
  }

  /** The policy watcher refused an edit: one alert per distinct error per hour. */
  async function onPolicyError(message: string): Promise<void> {
    try {
      await refresh();
      const subject = `policy:${createHash('sha256').update(message).digest('hex').slice(0, 16)}`;
      const rows = rules.filter((r) => r.on === 'policy-error').map((r) => ({ ruleId: r.id, agentId: null, violationId: null, subject, detail: message, at: now() }));
      if (rows.length) {
        await alerts.addTriggers(rows);
        kick();
      }
    } catch (err) {
      log.error({ err }, 'could not queue a policy-error alert');
    }
  }

  const facts = (v: Violation): ViolationFacts => ({
    id: v.id, agentId: v.agentId, hostname: v.hostname, site: v.site, app: v.app, state: v.state, via: v.via, startedAt: v.startedAt,
  });

  /** What a trigger fires, if anything (the store then checks once-per-window and enqueues). */
  async function firingFor(t: Trigger): Promise<Firing | null> {
    const rule = ruleOf(t.ruleId);
    if (!rule) return null;
    const triggerSeq = t.seq;
    if (rule.on === 'policy-error') {
      return t.subject ? { rule, subject: t.subject, windowMs: 3_600_000, payload: policyErrorMessage(rule.id, t.detail ?? 'policy error', now()), triggerSeq } : null;
    }
    const v = t.agentId && t.violationId ? await deps.store.violations.get(t.agentId, t.violationId) : null;
    if (!v) return null; // erased or pruned meanwhile
    // The store hands readers the shown form (a pseudonym, or the name with --show-names);
    // alerts need the stored value: to count one person's violations, and to send the
    // pseudonym even where the dashboard shows names.
    const stored = await deps.store.violations.storedUser(v.agentId, v.id);
    const clinician = deps.pseudonymFor(stored);
    if (rule.on === 'in-call') {
      return { rule, subject: `violation:${v.agentId}/${v.id}`, windowMs: Infinity, payload: inCallMessage(rule.id, facts(v), deps.appName(v.app), clinician, now()), triggerSeq };
    }
    if (rule.on === 'repeat' && stored && clinician) {
      const end = Date.parse(v.startedAt);
      const n = await deps.store.violations.countByUser(stored, end - REPEAT_WINDOW, end, rule.site);
      // Once per clinician per 7 days: the lead hears of the pattern, not of every case after it.
      if (n >= (rule.threshold ?? 3)) return { rule, subject: `repeat:${clinician}`, windowMs: REPEAT_WINDOW, payload: repeatMessage(rule.id, facts(v), deps.appName(v.app), clinician, n, now()), triggerSeq };
    }
    return null;
  }

  async function processTriggers(): Promise<void> {
    for (;;) {
      const batch = await alerts.peekTriggers(200);
      if (batch.length === 0) return;
      const firings: Firing[] = [];
      for (const t of batch) {
        const f = await firingFor(t);
        if (f) firings.push(f);
      }
      await alerts.settleTriggers(batch.map((t) => t.seq), firings);
      if (batch.length < 200 || stopped) return; // drained (or stopping)
    }
  }

  /** Agents silent during their consult hours: one alert per silence, repeated daily while it lasts. */
  async function checkSilent(): Promise<void> {
    const silentRules = rules.filter((r) => r.on === 'silent-agent');
    if (!silentRules.length) return;
    await deps.refreshOnline?.();
    const t = now();
    const at = new Date(t);
    const firings: Firing[] = [];
    for (const a of await deps.store.agents.list()) {
      if (a.revoked_at !== null || a.token_hash === null) continue;
      if (a.last_seen !== null && t - a.last_seen < SILENT_AFTER_MS) continue; // heard from lately (maybe by another instance)
      const policy = policyForAgent(deps.policyFor, { site: a.site, group: a.grp, sitePinned: a.site_pinned === 1 });
      if (!agentView(a, deps.isOnline(a.agent_id), policy, at).silent) continue;
      for (const rule of silentRules) {
        if (rule.site !== null && rule.site !== a.site) continue;
        firings.push({ rule, subject: `silent:${a.agent_id}:${a.last_seen ?? 'never'}`, windowMs: DAY, payload: silentMessage(rule.id, { agentId: a.agent_id, hostname: a.hostname, site: a.site, lastSeen: a.last_seen === null ? null : new Date(a.last_seen).toISOString() }, t) });
      }
    }
    // Once per silence across instances: the store's once-per-window check decides, in one transaction.
    await alerts.fire(firings);
  }

  function backoff(attempts: number): number {
    const raw = Math.min(o.retryCapMs, o.retryBaseMs * 2 ** Math.min(attempts, 30));
    return Math.round(raw * (0.8 + Math.random() * 0.4));
  }

  async function deliver(): Promise<void> {
    const free = o.concurrency - inFlight;
    if (free <= 0) return;
    for (const d of await alerts.claim(free, o.timeoutMs * 3 + 5000)) {
      const rule = ruleOf(d.ruleId);
      const channel = rule?.channels[d.channel];
      if (!rule || !channel) {
        await alerts.attemptFailed(d.id, 'RULE_REMOVED', null);
        continue;
      }
      inFlight++;
      const message = JSON.parse(d.payload) as AlertMessage;
      deps.sender.send(channel, message).then(
        async () => {
          await alerts.delivered(d.id);
          done.delivered++;
          counts.delivered?.inc({ channel: channel.kind });
          streak.ok();
        },
        async (err: unknown) => {
          const code = sendErrorCode(err);
          const last = d.attempts + 1 >= o.maxAttempts;
          await alerts.attemptFailed(d.id, code, last ? null : now() + backoff(d.attempts));
          counts.attempts?.inc({ channel: channel.kind });
          if (last) {
            done.failed++;
            counts.failed?.inc({ channel: channel.kind });
            log.error({ rule: rule.id, channel: channel.kind, alertId: d.alertId, code, attempts: d.attempts + 1 }, 'alert not delivered after the last retry; given up');
          }
          // Logged once per failure streak (never the URL: Slack and Teams URLs are credentials).
          streak.fail(new SendError(code), { rule: rule.id, channel: channel.kind, target: channel.kind === 'email' ? 'smtp' : maskUrl(channel.target, channel.kind) });
        },
      ).catch((err: unknown) => log.error({ err }, 'alert bookkeeping failed')).finally(() => {
        inFlight--;
        if (!stopped) kick();
      });
    }
  }

  /** One pass at a time: a tick that finds the last one still running asks for another after it. */
  async function tick(): Promise<void> {
    kicked = false;
    if (stopped) return;
    if (ticking) {
      kick();
      return;
    }
    ticking = true;
    try {
      await refresh();
      await processTriggers();
      const t = now();
      if (t - lastSilentCheck >= o.silentCheckMs) {
        lastSilentCheck = t;
        await deps.store.jobs.runExclusive('alerts:silent-agents', checkSilent);
      }
      if (t - lastPrune >= 3_600_000) {
        lastPrune = t;
        await deps.store.jobs.runExclusive('alerts:prune', () => alerts.prune(30 * DAY));
      }
      await deliver();
    } catch (err) {
      log.warn({ err }, 'alert loop failed; retrying at the next tick');
    } finally {
      ticking = false;
    }
  }

  /** Runs a tick soon (new triggers, a slot freed), off the caller's stack. */
  function kick(): void {
    if (kicked || stopped) return;
    kicked = true;
    setImmediate(() => void tick());
  }

  return {
    onIngest,
    onPolicyError,
    /** After a change through this instance (API): in force here at once, and every other instance is told. */
    async reload(): Promise<void> {
      rules = await alerts.rules();
      await deps.store.changes.notify('alerts');
    },
    start(): void {
      stopped = false;
      timer = setInterval(() => void tick(), o.tickMs);
      timer.unref();
      kick();
    },
    stop(): void {
      stopped = true;
      if (timer) clearInterval(timer);
      timer = null;
    },
    /** Sends a test message on every channel of a rule now, outside the queue, and says how each went. */
    async test(ruleId: string): Promise<TestResult[] | null> {
      const rule = await alerts.rule(ruleId);
      if (!rule) return null;
      return Promise.all(rule.channels.map(async (c, index): Promise<TestResult> => {
        const target = c.kind === 'email' ? c.target : maskUrl(c.target, c.kind);
        try {
          await deps.sender.send(c, testMessage(rule.id, rule.on, now()));
          return { index, kind: c.kind, target, ok: true };
        } catch (err) {
          return { index, kind: c.kind, target, ok: false, error: sendErrorCode(err) };
        }
      }));
    },
    /** The `alerts` part of /healthz. */
    async status() {
      const s = streak.status();
      const c = await alerts.counts();
      return { ...s, state: s.state === 'connecting' ? 'ok' as const : s.state, rules: rules.length, queued: c.queued, retrying: c.retrying, delivered: c.delivered, failed: c.failed, oldestQueuedAt: c.oldestQueuedAt === null ? null : new Date(c.oldestQueuedAt).toISOString(), inFlight };
    },
  };
}

export type AlertEngine = ReturnType<typeof createAlertEngine>;
