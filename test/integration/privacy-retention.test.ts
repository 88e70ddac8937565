/**
 * Retention of every table holding personal data, on a real SQLite file: backdated rows of
 * each table are deleted, fresh ones kept; the audit log has its own, longer period.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createStore } from '../../server/store/index.js';
import { AUDIT_RETENTION_DAYS, pruneAll } from '../../server/store/retention.js';
import { ServerConfig } from '../../server/config.js';
import { tempDir } from '../support/server.js';

const DAY = 86_400_000;

describe('retention of every personal-data table', () => {
  it('deletes backdated rows of violations, events, nudges, reviews, reveals, exception claims, sessions, login failures and addresses, people and audit; keeps fresh ones', async () => {
    const now = Date.now();
    const store = createStore(tempDir('cg-ret-'));
    const db = store.db;
    const old = now - 400 * DAY;
    const fresh = now - DAY;
    const agent = randomUUID();
    const v = db.prepare(`INSERT INTO violations (id, agent_id, hostname, site, user, app, state, via, started_at, ended_at, evidence, updated_at) VALUES (?, ?, 'PC', 'north', ?, 'zoom', 'running', 'process', ?, ?, '[]', ?)`);
    const violation = (user: string, started: number, ended: number | null, updated = ended ?? started) => {
      const id = randomUUID();
      v.run(id, agent, user, started, ended, updated);
      db.prepare('INSERT OR IGNORE INTO people (name, pseudonym, first_seen) VALUES (?, ?, ?)').run(user, store.people.pseudonym(user), started);
      return id;
    };
    const oldEnded = violation('CLINIC\\old.ended', old - DAY, old);
    const staleOpen = violation('CLINIC\\stale.open', old, null); // its agent went silent a year ago
    const freshEnded = violation('CLINIC\\fresh', fresh - 3600_000, fresh);
    const freshOpen = violation('CLINIC\\fresh', now - 60_000, null, now);
    const child = (violationId: string, at: number) => {
      db.prepare("INSERT INTO events (agent_id, id, violation_id, kind, at, body, received_at) VALUES (?, ?, ?, 'started', ?, '{}', ?)").run(agent, randomUUID(), violationId, at, at);
      db.prepare("INSERT INTO nudges (agent_id, id, violation_id, app, user, outcome, at, received_at) VALUES (?, ?, ?, 'zoom', NULL, 'shown', ?, ?)").run(agent, randomUUID(), violationId, at, at);
      db.prepare("INSERT INTO reviews (agent_id, violation_id, status, by, at, note) VALUES (?, ?, 'acknowledged', 'lead', ?, '')").run(agent, violationId, at);
      db.prepare("INSERT INTO reveals (agent_id, violation_id, pseudonym, by, at, reason) VALUES (?, ?, 'clinician-00000000', 'lead', ?, 'why')").run(agent, violationId, at);
      db.prepare("INSERT INTO exceptions (agent_id, violation_id, outcome_id, app, user, reason, label, claimed_at, until) VALUES (?, ?, ?, 'zoom', 'CLINIC\\x', 'emergency', 'Emergency', ?, ?)").run(agent, violationId, randomUUID(), at, at + 3600_000);
    };
    for (const id of [oldEnded, staleOpen]) child(id, old);
    for (const id of [freshEnded, freshOpen]) child(id, fresh);
    // Rows of a violation that never arrived (or was forgotten): by their own age.
    child(randomUUID(), old);
    child(randomUUID(), fresh);

    await store.users.add('lead', 'lead', 'a long lead password');
    const session = db.prepare('INSERT INTO sessions (id_hash, user_name, csrf_token, created_at, last_seen, expires_at) VALUES (?, ?, ?, ?, ?, ?)');
    session.run('expired', 'lead', 'c', now - 2 * DAY, now - 2 * DAY, now - DAY);
    session.run('idle', 'lead', 'c', now - 3 * 3600_000, now - 3 * 3600_000, now + 9 * 3600_000); // idle past 30 min
    session.run('live', 'lead', 'c', now - 60_000, now - 60_000, now + 11 * 3600_000);
    const failure = db.prepare('INSERT INTO login_failures (user_name, ip, at) VALUES (?, ?, ?)');
    failure.run('lead', '10.0.0.1', now - 3600_000);
    failure.run('lead', '10.0.0.1', now - 60_000);
    const known = db.prepare('INSERT INTO login_known (user_name, ip, last_ok) VALUES (?, ?, ?)');
    known.run('lead', '10.0.0.1', now - 40 * DAY);
    known.run('lead', '10.0.0.2', now - DAY);
    const audit = db.prepare("INSERT INTO audit (at, actor, action, detail) VALUES (?, 'lead', ?, '{}')");
    audit.run(now - 800 * DAY, 'ancient');
    audit.run(old, 'last-year'); // older than the violations' period, within the audit's
    audit.run(fresh, 'yesterday');

    db.prepare('UPDATE people SET first_seen = ?').run(old); // seen a year ago; only the fresh one is still held
    const pruned = await pruneAll(db, { days: 365, auditDays: AUDIT_RETENTION_DAYS }, now, 2); // batches of 2: the loop is exercised
    expect(pruned).toEqual({ violations: 2, events: 1, nudges: 1, reviews: 1, reveals: 1, exceptions: 1, sessions: 2, loginFailures: 1, loginKnown: 1, people: 2, audit: 1 });

    const col = (sql: string) => db.prepare(sql).pluck().all();
    expect(col('SELECT id FROM violations ORDER BY id')).toEqual([freshEnded, freshOpen].sort());
    for (const t of ['events', 'nudges', 'reviews', 'reveals']) {
      expect(col(`SELECT at FROM ${t}`), t).toEqual([fresh, fresh, fresh]);
    }
    // The claims of deleted violations went with them (trigger); the stray old one by its age.
    expect(col('SELECT claimed_at FROM exceptions')).toEqual([fresh, fresh, fresh]);
    expect(col('SELECT id_hash FROM sessions')).toEqual(['live']);
    expect(col('SELECT at FROM login_failures')).toEqual([now - 60_000]);
    expect(col('SELECT ip FROM login_known')).toEqual(['10.0.0.2']);
    expect(col('SELECT name FROM people')).toEqual(['CLINIC\\fresh']);
    expect(col('SELECT action FROM audit ORDER BY seq')).toEqual(['last-year', 'yesterday']);
    // A second pass finds nothing more.
    expect(Object.values(await pruneAll(db, { days: 365, auditDays: AUDIT_RETENTION_DAYS }, now)).every((n) => n === 0)).toBe(true);
    await store.close();
  });

  it('the audit period is its own option, default 730 days', () => {
    expect(ServerConfig.parse({}).auditRetentionDays).toBe(730);
    expect(ServerConfig.parse({ auditRetentionDays: 3650 }).auditRetentionDays).toBe(3650);
    expect(() => ServerConfig.parse({ auditRetentionDays: 0 })).toThrow();
  });
});
