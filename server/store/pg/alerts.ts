/**
 * Alert rules, triggers, firings and the durable delivery queue on PostgreSQL (alerts.ts
 * has the rules). Once-only across instances rests on row locks, not on one writer:
 * settling triggers deletes them first and fires only for the rows this transaction
 * deleted (of two instances settling one trigger, the second deletes nothing and fires
 * nothing); a firing is one upsert whose WHERE decides; deliveries are leased by one UPDATE
 * over a FOR UPDATE SKIP LOCKED selection, so two instances never hold one delivery and
 * never send an alert twice.
 */
import { randomUUID } from 'node:crypto';
import type { AlertRule, Channel, ChannelKind, Delivery, Trigger } from '../alerts.js';
import type { AlertQueue, AlertQueueCounts, Firing } from '../types.js';
import type { PgDb, Queryable } from './db.js';

interface RuleRow { id: string; on_event: string; threshold: number | null; site: string | null; channels: string; created_at: number; created_by: string }
const toRule = (r: RuleRow): AlertRule => ({
  id: r.id, on: r.on_event as AlertRule['on'], threshold: r.threshold, site: r.site,
  channels: JSON.parse(r.channels) as Channel[], createdAt: r.created_at, createdBy: r.created_by,
});
interface TriggerRow { seq: number; rule_id: string; agent_id: string | null; violation_id: string | null; subject: string | null; detail: string | null; at: number }

export function createPgAlertStore(db: PgDb, now: () => number = Date.now) {
  const fireOnce = async (q: Queryable, ruleId: string, subject: string, windowMs: number): Promise<boolean> => {
    const t = now();
    const cutoff = Number.isFinite(windowMs) ? t - windowMs : Number.MIN_SAFE_INTEGER;
    const r = await q.query(
      `INSERT INTO alert_fired (rule_id, subject, fired_at) VALUES ($1, $2, $3)
       ON CONFLICT (rule_id, subject) DO UPDATE SET fired_at = excluded.fired_at WHERE alert_fired.fired_at < $4`,
      [ruleId, subject, t, cutoff],
    );
    return (r.rowCount ?? 0) > 0;
  };
  const enqueue = async (q: Queryable, rule: AlertRule, payload: object & { alertId: string }): Promise<void> => {
    if (rule.channels.length === 0) return;
    const t = now();
    await q.query(
      `INSERT INTO alert_deliveries (alert_id, rule_id, channel, kind, payload, next_at, created_at)
       SELECT $1, $2, ch, kind, $3, $4, $4 FROM unnest($5::int[], $6::text[]) AS u(ch, kind)`,
      [payload.alertId, rule.id, JSON.stringify(payload), t, rule.channels.map((_, i) => i), rule.channels.map((c) => c.kind)],
    );
  };
  const fireAll = async (q: Queryable, firings: Firing[]): Promise<number> => {
    let n = 0;
    for (const f of firings) {
      if (!(await fireOnce(q, f.rule.id, f.subject, f.windowMs))) continue;
      await enqueue(q, f.rule, f.payload);
      n++;
    }
    return n;
  };

  const store: AlertQueue = {
    async addRule(rule: Omit<AlertRule, 'id' | 'createdAt'>): Promise<AlertRule> {
      const created: AlertRule = { ...rule, id: randomUUID().slice(0, 8), createdAt: now() };
      await db.query('INSERT INTO alert_rules (id, on_event, threshold, site, channels, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7)',
        [created.id, created.on, created.threshold, created.site, JSON.stringify(created.channels), created.createdAt, created.createdBy]);
      return created;
    },
    rules: async (): Promise<AlertRule[]> => (await db.query<RuleRow>('SELECT * FROM alert_rules ORDER BY created_at, id')).rows.map(toRule),
    async rule(id: string): Promise<AlertRule | null> {
      const r = (await db.query<RuleRow>('SELECT * FROM alert_rules WHERE id = $1', [id])).rows[0];
      return r ? toRule(r) : null;
    },
    /** Removes a rule; its queued deliveries are dropped with it. */
    removeRule: (id: string): Promise<boolean> => db.tx(async (c) => {
      const gone = ((await c.query('DELETE FROM alert_rules WHERE id = $1', [id])).rowCount ?? 0) > 0;
      if (gone) {
        await c.query("UPDATE alert_deliveries SET state = 'failed', last_error = 'rule removed', done_at = $1 WHERE rule_id = $2 AND state = 'queued'", [now(), id]);
        await c.query('DELETE FROM alert_triggers WHERE rule_id = $1', [id]);
      }
      return gone;
    }),
    /** Ingest's part: one insert for the batch's matching events. */
    async addTriggers(rows: Array<Omit<Trigger, 'seq'>>): Promise<void> {
      if (rows.length === 0) return;
      await db.query(
        `INSERT INTO alert_triggers (rule_id, agent_id, violation_id, subject, detail, at)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[])`,
        [rows.map((t) => t.ruleId), rows.map((t) => t.agentId), rows.map((t) => t.violationId), rows.map((t) => t.subject), rows.map((t) => t.detail), rows.map((t) => t.at)],
      );
    },
    async peekTriggers(limit: number): Promise<Trigger[]> {
      const { rows } = await db.query<TriggerRow>('SELECT * FROM alert_triggers ORDER BY seq LIMIT $1', [limit]);
      return rows.map((r) => ({ seq: r.seq, ruleId: r.rule_id, agentId: r.agent_id, violationId: r.violation_id, subject: r.subject, detail: r.detail, at: r.at }));
    },
    settleTriggers: (seqs: number[], firings: Firing[]): Promise<number> => db.tx(async (c) => {
      const { rows } = seqs.length === 0 ? { rows: [] as Array<{ seq: number }> } : await c.query<{ seq: number }>('DELETE FROM alert_triggers WHERE seq = ANY($1::bigint[]) RETURNING seq', [seqs]);
      const mine = new Set(rows.map((r) => r.seq));
      await fireAll(c, firings.filter((f) => f.triggerSeq === undefined || mine.has(f.triggerSeq)));
      return mine.size;
    }),
    fire: (firings: Firing[]): Promise<number> => (firings.length === 0 ? Promise.resolve(0) : db.tx((c) => fireAll(c, firings))),
    /** Leases up to `limit` due deliveries for `leaseMs`; rows another instance is leasing right now are skipped. */
    async claim(limit: number, leaseMs: number): Promise<Delivery[]> {
      const t = now();
      const { rows } = await db.query<{ id: number; alert_id: string; rule_id: string; channel: number; kind: string; payload: string; attempts: number }>(
        `UPDATE alert_deliveries SET lease_until = $1 WHERE id IN (
           SELECT id FROM alert_deliveries WHERE state = 'queued' AND next_at <= $2 AND (lease_until IS NULL OR lease_until < $2)
           ORDER BY next_at LIMIT $3 FOR UPDATE SKIP LOCKED)
         AND state = 'queued' AND (lease_until IS NULL OR lease_until < $2)
         RETURNING id, alert_id, rule_id, channel, kind, payload, attempts`,
        [t + leaseMs, t, limit],
      );
      return rows.sort((a, b) => a.id - b.id).map((d) => ({ id: d.id, alertId: d.alert_id, ruleId: d.rule_id, channel: d.channel, kind: d.kind as ChannelKind, payload: d.payload, attempts: d.attempts }));
    },
    delivered: async (id: number): Promise<void> => void (await db.query("UPDATE alert_deliveries SET state = 'delivered', attempts = attempts + 1, done_at = $1, lease_until = NULL, last_error = NULL WHERE id = $2", [now(), id])),
    async attemptFailed(id: number, error: string, retryAt: number | null): Promise<void> {
      if (retryAt === null) await db.query("UPDATE alert_deliveries SET state = 'failed', attempts = attempts + 1, done_at = $1, lease_until = NULL, last_error = $2 WHERE id = $3", [now(), error, id]);
      else await db.query('UPDATE alert_deliveries SET attempts = attempts + 1, next_at = $1, lease_until = NULL, last_error = $2 WHERE id = $3', [retryAt, error, id]);
    },
    async counts(): Promise<AlertQueueCounts> {
      const r = (await db.query<{ queued: number; retrying: number; delivered: number; failed: number; oldest: number | null }>(
        `SELECT count(*) FILTER (WHERE state = 'queued') AS queued, count(*) FILTER (WHERE state = 'queued' AND attempts > 0) AS retrying,
           count(*) FILTER (WHERE state = 'delivered') AS delivered, count(*) FILTER (WHERE state = 'failed') AS failed,
           min(created_at) FILTER (WHERE state = 'queued') AS oldest FROM alert_deliveries`,
      )).rows[0]!;
      return { queued: r.queued, retrying: r.retrying, delivered: r.delivered, failed: r.failed, oldestQueuedAt: r.oldest };
    },
    async prune(keepMs: number): Promise<void> {
      const cutoff = now() - keepMs;
      await db.query("DELETE FROM alert_deliveries WHERE state <> 'queued' AND done_at < $1", [cutoff]);
      await db.query('DELETE FROM alert_fired WHERE fired_at < $1', [cutoff]);
    },
  };
  return store;
}
