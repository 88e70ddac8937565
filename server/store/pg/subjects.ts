/**
 * Data-subject requests on PostgreSQL, with the rules of subjects.ts (what an export holds,
 * what erasure deletes, scrubs and keeps, and why). SQLite's case-insensitive LIKE is ILIKE
 * here, COLLATE NOCASE is lower() on both sides, json_extract is ->>.
 */
import type { SubjectExport } from '../../../shared/api-types.js';
import { accountPart, ERASED } from '../people.js';
import { erasureKept, isoOrNull as iso, jsonOrText as json, violationExport } from '../rows.js';
import type { SubjectErasure, SubjectStore } from '../types.js';
import type { Client, PgDb, Queryable } from './db.js';
import type { PgPeople } from './people.js';
import type { PgRollups } from './rollups.js';

const likeOf = (needle: string) => `%${JSON.stringify(needle).slice(1, -1).replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

interface VRow { seq: number; id: string; agent_id: string; hostname: string; site: string | null; user: string | null; app: string; state: string; via: string; started_at: number; ended_at: number | null; evidence: string; ack_status: string | null; ack_by: string | null; ack_at: number | null; ack_note: string | null }
interface ERow { agent_id: string; id: string; violation_id: string; kind: string; at: number; body: unknown; received_at: number }
interface NRow { agent_id: string; id: string; violation_id: string; app: string; user: string | null; outcome: string; at: number; detail: string | null }

export function createPgSubjects(db: PgDb, people: PgPeople, rollups: PgRollups, now: () => number = Date.now): SubjectStore {
  async function identify(name: string) {
    const pseudonym = people.pseudonym(name);
    const names = [...new Set([name, ...(await people.namesOf(pseudonym))])];
    const needles = [...new Set(names.flatMap((n) => [n, accountPart(n)]))].filter((n) => n.length >= 3 && !n.includes(':')).sort((a, b) => b.length - a.length);
    return { pseudonym, names, needles };
  }
  const auditMentioning = async (q: Queryable, needles: string[]): Promise<Set<number>> => {
    if (needles.length === 0) return new Set();
    const { rows } = await q.query<{ seq: number }>('SELECT seq FROM audit WHERE detail ILIKE ANY($1::text[]) ORDER BY seq', [needles.map(likeOf)]);
    return new Set(rows.map((r) => r.seq));
  };
  const violationsOf = async (q: Queryable, names: string[]) => (await q.query<VRow>('SELECT * FROM violations WHERE "user" = ANY($1::text[]) ORDER BY started_at, seq', [names])).rows;
  const dashboardUser = async (q: Queryable, name: string) => {
    for (const candidate of [name, accountPart(name)]) {
      const u = (await q.query<{ name: string; role: string; created_at: number; disabled_at: number | null }>('SELECT name, role, created_at, disabled_at FROM users WHERE lower(name) = lower($1)', [candidate])).rows[0];
      if (u) return { ...u, matchedBy: candidate === name ? 'same name' : `account part "${candidate}" of the name` };
    }
    return null;
  };
  const eventRow = (e: ERow) => ({ agentId: e.agent_id, id: e.id, violationId: e.violation_id, kind: e.kind, at: iso(e.at), receivedAt: iso(e.received_at), event: e.body });
  const nudgeRow = (n: NRow) => ({ agentId: n.agent_id, id: n.id, violationId: n.violation_id, app: n.app, user: n.user, outcome: n.outcome, at: iso(n.at), detail: n.detail });

  async function exportSubject(name: string): Promise<SubjectExport> {
    const { pseudonym, names, needles } = await identify(name);
    // One snapshot for the whole answer.
    return db.tx(async (c) => {
      await c.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const vs = await violationsOf(c, names);
      const keys = [vs.map((v) => v.agent_id), vs.map((v) => v.id)];
      const ofViolations = (table: string, order: string) => `SELECT x.* FROM ${table} x JOIN unnest($1::text[], $2::text[]) AS k(a, v) ON x.agent_id = k.a AND x.violation_id = k.v ORDER BY ${order}`;
      const events = new Map<string, unknown>();
      const nudges = new Map<string, unknown>();
      for (const e of (await c.query<ERow>(ofViolations('events', 'x.at'), keys)).rows) events.set(`${e.agent_id}/${e.id}`, eventRow(e));
      for (const n of (await c.query<NRow>(ofViolations('nudges', 'x.at'), keys)).rows) nudges.set(`${n.agent_id}/${n.id}`, nudgeRow(n));
      const reviewRows = (await c.query<{ agent_id: string; violation_id: string; status: string; by: string; at: number; note: string }>(ofViolations('reviews', 'x.at, x.seq'), keys)).rows;
      const order = new Map(vs.map((v, i) => [`${v.agent_id}/${v.id}`, i]));
      reviewRows.sort((a, b) => (order.get(`${a.agent_id}/${a.violation_id}`) ?? 0) - (order.get(`${b.agent_id}/${b.violation_id}`) ?? 0));
      const reviews = reviewRows.map((r) => ({ agentId: r.agent_id, violationId: r.violation_id, status: r.status, by: r.by, at: iso(r.at), note: r.note }));
      for (const e of (await c.query<ERow>("SELECT * FROM events WHERE body->>'user' = ANY($1::text[])", [names])).rows) events.set(`${e.agent_id}/${e.id}`, eventRow(e));
      for (const n of (await c.query<NRow>('SELECT * FROM nudges WHERE "user" = ANY($1::text[])', [names])).rows) nudges.set(`${n.agent_id}/${n.id}`, nudgeRow(n));
      const reveals = (await c.query<{ agent_id: string; violation_id: string; by: string; at: number; reason: string }>('SELECT agent_id, violation_id, "by", at, reason FROM reveals WHERE pseudonym = $1 ORDER BY at', [pseudonym])).rows
        .map((r) => ({ agentId: r.agent_id, violationId: r.violation_id, by: r.by, at: iso(r.at), reason: r.reason }));
      const dash = await dashboardUser(c, name);
      const mentioning = [...(await auditMentioning(c, needles))];
      const audit = (await c.query<{ seq: number; at: number; actor: string; action: string; detail: string }>(
        `SELECT * FROM audit WHERE strpos(detail, $1) > 0 OR lower(actor) = lower($2) OR lower(detail::jsonb->>'name') = lower($2) OR seq = ANY($3::bigint[]) ORDER BY seq`,
        [pseudonym, dash?.name ?? '\u0001', mentioning],
      )).rows.map((a) => ({ seq: a.seq, at: iso(a.at), actor: a.actor, action: a.action, detail: json(a.detail) }));
      const exceptions = (await c.query<{ agent_id: string; violation_id: string; app: string; reason: string; label: string; claimed_at: number; until: number; decision: string | null; decided_by: string | null; note: string }>(
        'SELECT * FROM exceptions WHERE "user" = ANY($1::text[]) ORDER BY claimed_at', [names],
      )).rows.map((e) => ({ agentId: e.agent_id, violationId: e.violation_id, app: e.app, reason: e.reason, label: e.label, claimedAt: iso(e.claimed_at), until: iso(e.until), decision: e.decision, decidedBy: e.decided_by, note: e.note }));
      let dashboardUserOut = null;
      if (dash) {
        const [sessions, failures, known, made] = [
          await c.query<{ created_at: number; last_seen: number; expires_at: number }>('SELECT created_at, last_seen, expires_at FROM sessions WHERE user_name = $1 ORDER BY created_at', [dash.name]),
          await c.query<{ ip: string; at: number }>('SELECT ip, at FROM login_failures WHERE lower(user_name) = lower($1) ORDER BY at', [dash.name]),
          await c.query<{ ip: string; last_ok: number }>('SELECT ip, last_ok FROM login_known WHERE lower(user_name) = lower($1)', [dash.name]),
          await c.query<{ agent_id: string; violation_id: string; status: string; at: number; note: string }>('SELECT agent_id, violation_id, status, at, note FROM reviews WHERE lower("by") = lower($1) ORDER BY at', [dash.name]),
        ];
        dashboardUserOut = {
          name: dash.name, role: dash.role, matchedBy: dash.matchedBy, createdAt: iso(dash.created_at), disabledAt: iso(dash.disabled_at),
          sessions: sessions.rows.map((s) => ({ createdAt: iso(s.created_at), lastSeen: iso(s.last_seen), expiresAt: iso(s.expires_at) })),
          loginFailures: failures.rows.map((f) => ({ ip: f.ip, at: iso(f.at) })),
          knownAddresses: known.rows.map((k) => ({ ip: k.ip, lastSignIn: iso(k.last_ok) })),
          reviewsMade: made.rows.map((r) => ({ agentId: r.agent_id, violationId: r.violation_id, status: r.status, at: iso(r.at), note: r.note })),
        };
      }
      return {
        v: 1,
        generatedAt: new Date().toISOString(),
        subject: { name, pseudonym, spellings: names.filter((n) => n !== name) },
        violations: vs.map(violationExport),
        events: [...events.values()],
        nudges: [...nudges.values()],
        exceptions,
        reviews,
        reveals,
        dashboardUser: dashboardUserOut,
        audit,
      } as SubjectExport;
    });
  }

  async function eraseSubject(name: string, actor: string, auditDetail: Record<string, unknown> = {}): Promise<SubjectErasure> {
    const { pseudonym, names, needles } = await identify(name);
    const re = needles.length ? new RegExp(needles.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'gi') : null;
    const scrub = (text: string | null) => (text === null || !re ? text : text.replace(re, '[erased]'));
    const n = (r: { rowCount: number | null }) => r.rowCount ?? 0;
    return db.tx(async (c: Client) => {
      const counts = { violations: 0, events: 0, nudges: 0, exceptions: 0, reviewNotes: 0, reveals: 0, auditNotes: 0, dashboardTraces: 0 };
      // The erased violations and claims leave the roll-ups' user list (their other counts stay), in this transaction.
      const vs = await violationsOf(c, names);
      const claims = (await c.query<{ agent_id: string; violation_id: string }>('SELECT agent_id, violation_id FROM exceptions WHERE "user" = ANY($1::text[])', [names])).rows;
      const pairs = [...vs.map((v) => [v.agent_id, v.id] as const), ...claims.map((x) => [x.agent_id, x.violation_id] as const)];
      await rollups.track(c, pairs, async () => {
        for (const v of vs) {
          counts.events += n(await c.query('DELETE FROM events WHERE agent_id = $1 AND violation_id = $2', [v.agent_id, v.id]));
          counts.nudges += n(await c.query('DELETE FROM nudges WHERE agent_id = $1 AND violation_id = $2', [v.agent_id, v.id]));
          const evidence = (JSON.parse(v.evidence) as string[]).map((l) => scrub(l) ?? l);
          await c.query('UPDATE violations SET "user" = $1, evidence = $2, ack_note = $3 WHERE seq = $4', [ERASED, JSON.stringify(evidence), scrub(v.ack_note), v.seq]);
          for (const r of (await c.query<{ seq: number; note: string }>('SELECT seq, note FROM reviews WHERE agent_id = $1 AND violation_id = $2', [v.agent_id, v.id])).rows) {
            const note = scrub(r.note) ?? '';
            if (note !== r.note) counts.reviewNotes += n(await c.query('UPDATE reviews SET note = $1 WHERE seq = $2', [note, r.seq]));
          }
          counts.violations++;
        }
        counts.events += n(await c.query("DELETE FROM events WHERE body->>'user' = ANY($1::text[])", [names]));
        counts.nudges += n(await c.query('DELETE FROM nudges WHERE "user" = ANY($1::text[])', [names]));
        counts.exceptions = n(await c.query('DELETE FROM exceptions WHERE "user" = ANY($1::text[])', [names]));
      });
      for (const r of (await c.query<{ seq: number; reason: string }>('SELECT seq, reason FROM reveals WHERE pseudonym = $1', [pseudonym])).rows) {
        counts.reveals += n(await c.query('UPDATE reveals SET pseudonym = $1, reason = $2 WHERE seq = $3', ['erased', scrub(r.reason), r.seq]));
      }
      await c.query('DELETE FROM people WHERE name = ANY($1::text[])', [names]);
      const deep = (v: unknown): unknown => (typeof v === 'string' ? scrub(v) : Array.isArray(v) ? v.map(deep) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, deep(x)])) : v);
      for (const seq of await auditMentioning(c, needles)) {
        const a = (await c.query<{ detail: string }>('SELECT detail FROM audit WHERE seq = $1', [seq])).rows[0]!;
        const detail = JSON.stringify(deep(json(a.detail)));
        if (detail !== a.detail) counts.auditNotes += n(await c.query('UPDATE audit SET detail = $1 WHERE seq = $2', [detail, seq]));
      }
      const dash = await dashboardUser(c, name);
      if (dash) {
        counts.dashboardTraces += n(await c.query('DELETE FROM login_failures WHERE lower(user_name) = lower($1)', [dash.name]));
        counts.dashboardTraces += n(await c.query('DELETE FROM login_known WHERE lower(user_name) = lower($1)', [dash.name]));
      }
      // Who erased whom and when: the pseudonym, never the name (the name is what was erased).
      await c.query('INSERT INTO audit (at, actor, action, detail) VALUES ($1, $2, $3, $4)', [now(), actor, 'subject-erase', JSON.stringify({ ...auditDetail, pseudonym, ...counts })]);
      return {
        subject: { pseudonym },
        erased: counts,
        kept: erasureKept(dash),
      };
    });
  }

  return { identify, exportSubject, eraseSubject };
}
