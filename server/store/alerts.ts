/**
 * Alert rules, the triggers ingest leaves, what has fired, and the durable delivery queue
 * (migration 011). Every write that must happen once across instances is one statement or
 * one transaction: SQLite serialises writers, so two servers on one store never both
 * claim a delivery or fire a rule twice for one subject.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Db } from './db.js';
import type { Firing } from './types.js';

export const ALERT_EVENTS = ['in-call', 'silent-agent', 'repeat', 'policy-error'] as const;
export type AlertEvent = (typeof ALERT_EVENTS)[number];
export const CHANNEL_KINDS = ['webhook', 'teams', 'slack', 'email'] as const;
export type ChannelKind = (typeof CHANNEL_KINDS)[number];

export interface Channel {
  kind: ChannelKind;
  /** URL for webhook, teams and slack; an address for email. */
  target: string;
  /** webhook only: the HMAC key; kept here to sign, never returned after creation. */
  secret?: string;
}

export interface AlertRule {
  id: string;
  on: AlertEvent;
  /** repeat: violations by one clinician within 7 days that fire the rule. */
  threshold: number | null;
  /** Only violations and agents of this site (null: every site). */
  site: string | null;
  channels: Channel[];
  createdAt: number;
  createdBy: string;
}

export interface Trigger {
  seq: number;
  ruleId: string;
  agentId: string | null;
  violationId: string | null;
  subject: string | null;
  detail: string | null;
  at: number;
}

export interface Delivery {
  id: number;
  alertId: string;
  ruleId: string;
  channel: number;
  kind: ChannelKind;
  payload: string;
  attempts: number;
}

interface TriggerRow { seq: number; rule_id: string; agent_id: string | null; violation_id: string | null; subject: string | null; detail: string | null; at: number }
const toTrigger = (r: TriggerRow): Trigger => ({ seq: r.seq, ruleId: r.rule_id, agentId: r.agent_id, violationId: r.violation_id, subject: r.subject, detail: r.detail, at: r.at });

interface RuleRow { id: string; on_event: string; threshold: number | null; site: string | null; channels: string; created_at: number; created_by: string }

const toRule = (r: RuleRow): AlertRule => ({
  id: r.id, on: r.on_event as AlertEvent, threshold: r.threshold, site: r.site,
  channels: JSON.parse(r.channels) as Channel[], createdAt: r.created_at, createdBy: r.created_by,
});

/** A webhook secret for a rule added without one: 32 random bytes, shown once. */
export const newWebhookSecret = (): string => randomBytes(32).toString('base64url');

export function createAlertStore(db: Db, now: () => number = Date.now) {
  const insertRule = db.prepare('INSERT INTO alert_rules (id, on_event, threshold, site, channels, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?)');
  const insertTrigger = db.prepare('INSERT INTO alert_triggers (rule_id, agent_id, violation_id, subject, detail, at) VALUES (?, ?, ?, ?, ?, ?)');
  // Inserted when new; moved forward only once the last firing is older than the window.
  const fire = db.prepare(
    `INSERT INTO alert_fired (rule_id, subject, fired_at) VALUES (@rule, @subject, @now)
     ON CONFLICT (rule_id, subject) DO UPDATE SET fired_at = excluded.fired_at WHERE alert_fired.fired_at < @cutoff`,
  );
  const insertDelivery = db.prepare('INSERT INTO alert_deliveries (alert_id, rule_id, channel, kind, payload, next_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)');
  const due = db.prepare<[number, number], { id: number }>(
    "SELECT id FROM alert_deliveries WHERE state = 'queued' AND next_at <= ? AND (lease_until IS NULL OR lease_until < ?) ORDER BY next_at LIMIT 50",
  );
  const lease = db.prepare("UPDATE alert_deliveries SET lease_until = ? WHERE id = ? AND state = 'queued' AND (lease_until IS NULL OR lease_until < ?)");
  // Looked at before taking the write lock: an idle loop never holds it.
  const anyTrigger = db.prepare('SELECT 1 FROM alert_triggers LIMIT 1').pluck();
  const getDelivery = db.prepare<[number], { id: number; alert_id: string; rule_id: string; channel: number; kind: string; payload: string; attempts: number }>(
    'SELECT id, alert_id, rule_id, channel, kind, payload, attempts FROM alert_deliveries WHERE id = ?',
  );

  const delTrigger = db.prepare('DELETE FROM alert_triggers WHERE seq = ?');
  function fireOnce(ruleId: string, subject: string, windowMs: number): boolean {
    const t = now();
    const cutoff = Number.isFinite(windowMs) ? t - windowMs : Number.MIN_SAFE_INTEGER;
    return fire.run({ rule: ruleId, subject, now: t, cutoff }).changes > 0;
  }
  function enqueue(rule: AlertRule, payload: object & { alertId: string }): void {
    const t = now();
    const body = JSON.stringify(payload);
    rule.channels.forEach((c, i) => insertDelivery.run(payload.alertId, rule.id, i, c.kind, body, t, t));
  }
  function fireAll(firings: Firing[]): number {
    let n = 0;
    for (const f of firings) {
      if (!fireOnce(f.rule.id, f.subject, f.windowMs)) continue;
      enqueue(f.rule, f.payload);
      n++;
    }
    return n;
  }

  return {
    addRule(rule: Omit<AlertRule, 'id' | 'createdAt'>): AlertRule {
      const created: AlertRule = { ...rule, id: randomUUID().slice(0, 8), createdAt: now() };
      insertRule.run(created.id, created.on, created.threshold, created.site, JSON.stringify(created.channels), created.createdAt, created.createdBy);
      return created;
    },
    rules: (): AlertRule[] => db.prepare<[], RuleRow>('SELECT * FROM alert_rules ORDER BY created_at, id').all().map(toRule),
    rule(id: string): AlertRule | null {
      const r = db.prepare<[string], RuleRow>('SELECT * FROM alert_rules WHERE id = ?').get(id);
      return r ? toRule(r) : null;
    },
    /** Removes a rule; its queued deliveries are dropped with it (nobody asked for them any more). */
    removeRule: db.transaction((id: string): boolean => {
      const gone = db.prepare('DELETE FROM alert_rules WHERE id = ?').run(id).changes > 0;
      if (gone) {
        db.prepare("UPDATE alert_deliveries SET state = 'failed', last_error = 'rule removed', done_at = ? WHERE rule_id = ? AND state = 'queued'").run(now(), id);
        db.prepare('DELETE FROM alert_triggers WHERE rule_id = ?').run(id);
      }
      return gone;
    }),

    /** Ingest's part: one insert per matching event, in one transaction for the batch. */
    addTriggers: db.transaction((rows: Array<Omit<Trigger, 'seq'>>): void => {
      for (const t of rows) insertTrigger.run(t.ruleId, t.agentId, t.violationId, t.subject, t.detail, t.at);
    }),
    /** The oldest `limit` triggers, left in place (settleTriggers takes them). */
    peekTriggers: (limit: number): Trigger[] => !anyTrigger.get() ? [] : db.prepare<[number], TriggerRow>('SELECT * FROM alert_triggers ORDER BY seq LIMIT ?').all(limit).map(toTrigger),
    /**
     * One write transaction: deletes the triggers still present, then fires the firings of the
     * ones this call deleted (another instance that got there first already fired them).
     */
    settleTriggers: (seqs: number[], firings: Firing[]): number => seqs.length === 0 && firings.length === 0 ? 0 : db.transaction(() => {
      const taken = new Set<number>();
      for (const seq of seqs) if (delTrigger.run(seq).changes > 0) taken.add(seq);
      fireAll(firings.filter((f) => f.triggerSeq === undefined || taken.has(f.triggerSeq)));
      return taken.size;
    }).immediate(),
    /** One write transaction: each firing's once-per-window check, and its deliveries when it passes. */
    fire: (firings: Firing[]): number => firings.length === 0 ? 0 : db.transaction(() => fireAll(firings)).immediate(),
    /** True when the rule has not fired for this subject within `windowMs` (Infinity: ever); records it. */
    fireOnce,
    /** One alert to every channel of its rule: one delivery row each, due now. */
    enqueue,
    /** Leases up to `limit` due deliveries for `leaseMs` (another instance skips them meanwhile). */
    claim: (limit: number, leaseMs: number): Delivery[] => due.all(now(), now()).length === 0 ? [] : db.transaction(() => {
      const t = now();
      const out: Delivery[] = [];
      for (const { id } of due.all(t, t)) {
        if (out.length >= limit) break;
        if (lease.run(t + leaseMs, id, t).changes === 0) continue;
        const d = getDelivery.get(id)!;
        out.push({ id: d.id, alertId: d.alert_id, ruleId: d.rule_id, channel: d.channel, kind: d.kind as ChannelKind, payload: d.payload, attempts: d.attempts });
      }
      return out;
    }).immediate(),
    delivered: (id: number): void => void db.prepare("UPDATE alert_deliveries SET state = 'delivered', attempts = attempts + 1, done_at = ?, lease_until = NULL, last_error = NULL WHERE id = ?").run(now(), id),
    /** A failed attempt: try again at `retryAt`, or give up (`retryAt` null). `error` is a code, never secret text. */
    attemptFailed(id: number, error: string, retryAt: number | null): void {
      if (retryAt === null) db.prepare("UPDATE alert_deliveries SET state = 'failed', attempts = attempts + 1, done_at = ?, lease_until = NULL, last_error = ? WHERE id = ?").run(now(), error, id);
      else db.prepare('UPDATE alert_deliveries SET attempts = attempts + 1, next_at = ?, lease_until = NULL, last_error = ? WHERE id = ?').run(retryAt, error, id);
    },
    /** Queue figures for /healthz and /metrics. */
    counts(): { queued: number; retrying: number; delivered: number; failed: number; oldestQueuedAt: number | null } {
      const r = db.prepare<[], { queued: number; retrying: number; delivered: number; failed: number; oldest: number | null }>(
        `SELECT count(*) FILTER (WHERE state = 'queued') AS queued, count(*) FILTER (WHERE state = 'queued' AND attempts > 0) AS retrying,
           count(*) FILTER (WHERE state = 'delivered') AS delivered, count(*) FILTER (WHERE state = 'failed') AS failed,
           min(created_at) FILTER (WHERE state = 'queued') AS oldest FROM alert_deliveries`,
      ).get()!;
      return { queued: r.queued, retrying: r.retrying, delivered: r.delivered, failed: r.failed, oldestQueuedAt: r.oldest };
    },
    /** Finished deliveries and old firings go after `keepMs` (the queue itself never loses a queued row). */
    prune(keepMs: number): void {
      const cutoff = now() - keepMs;
      db.prepare("DELETE FROM alert_deliveries WHERE state <> 'queued' AND done_at < ?").run(cutoff);
      db.prepare('DELETE FROM alert_fired WHERE fired_at < ?').run(cutoff);
    },
  };
}

export type AlertStore = ReturnType<typeof createAlertStore>;
