/**
 * Data-subject requests (GDPR Art. 15 access, Art. 17 erasure) for one clinician, by the
 * user name the agents report (`CLINIC\dr.lee`; every spelling of it, as pseudonyms are:
 * see people.ts), or by a workstation's keyed hash (`h:...`) when that is all the store holds.
 *
 * `exportSubject`: everything held about them: their violations with events, nudges and the
 * reviews of them, who revealed their name and why, and, when the name is also a dashboard
 * login (the same name, or its account part `dr.lee`), that login's sessions, sign-in
 * traces, reviews made and audit entries.
 *
 * `eraseSubject`, one transaction: their events and nudges are deleted; their violations
 * stay (counts and trends stay true) with the user replaced by the erased marker and their
 * name scrubbed from evidence and notes; reveals of them no longer name their pseudonym;
 * the people row goes. Kept, and said so in the answer: the audit log (accountability,
 * Art. 5(2), 17(3)(b)), which only ever holds pseudonyms of clinicians, and a dashboard
 * login of the same name (an admin disables it; its sign-in traces are deleted here).
 */
import type { Db } from './db.js';
import { accountPart, ERASED, type People } from './people.js';
import { erasureKept, isoOrNull as iso, jsonOrText as json, violationExport } from './rows.js';
import { createRollups } from './rollups.js';


interface VRow { seq: number; id: string; agent_id: string; hostname: string; site: string | null; user: string | null; app: string; state: string; via: string; started_at: number; ended_at: number | null; evidence: string; ack_status: string | null; ack_by: string | null; ack_at: number | null; ack_note: string | null }

export function createSubjects(db: Db, people: People) {
  /** The stored spellings of this person, and their pseudonym. */
  function identify(name: string) {
    const pseudonym = people.pseudonym(name);
    const names = [...new Set([name, ...people.namesOf(pseudonym)])];
    // Their name as free text may hold it (evidence paths, notes): every spelling and its account part.
    const needles = [...new Set(names.flatMap((n) => [n, accountPart(n)]))].filter((n) => n.length >= 3 && !n.includes(':')).sort((a, b) => b.length - a.length);
    return { pseudonym, names, needles };
  }
  /** Audit entries whose JSON detail holds one of `needles` (any case): LIKE, as written inside JSON text. */
  const auditMentioning = (needles: string[]) => {
    const seqs = new Set<number>();
    for (const needle of needles) {
      const like = `%${JSON.stringify(needle).slice(1, -1).replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      for (const a of db.prepare<[string], { seq: number }>("SELECT seq FROM audit WHERE detail LIKE ? ESCAPE '\\'").all(like)) seqs.add(a.seq);
    }
    return seqs;
  };
  const inList = (names: string[]) => names.map(() => '?').join(', ');
  const violationsOf = (names: string[]) => db.prepare<string[], VRow>(`SELECT * FROM violations WHERE user IN (${inList(names)}) ORDER BY started_at, seq`).all(...names);
  const dashboardUser = (name: string) => {
    for (const candidate of [name, accountPart(name)]) {
      const u = db.prepare<[string], { name: string; role: string; created_at: number; disabled_at: number | null }>('SELECT name, role, created_at, disabled_at FROM users WHERE name = ?').get(candidate);
      if (u) return { ...u, matchedBy: candidate === name ? 'same name' : `account part "${candidate}" of the name` };
    }
    return null;
  };

  function exportSubject(name: string) {
    const { pseudonym, names, needles } = identify(name);
    const vs = violationsOf(names);
    const events = new Map<string, unknown>();
    const nudges = new Map<string, unknown>();
    const reviews: unknown[] = [];
    const ev = db.prepare<[string, string], { agent_id: string; id: string; violation_id: string; kind: string; at: number; body: string; received_at: number }>('SELECT * FROM events WHERE agent_id = ? AND violation_id = ? ORDER BY at');
    const nu = db.prepare<[string, string], { agent_id: string; id: string; violation_id: string; app: string; user: string | null; outcome: string; at: number; detail: string | null }>('SELECT * FROM nudges WHERE agent_id = ? AND violation_id = ? ORDER BY at');
    const eventRow = (e: { agent_id: string; id: string; violation_id: string; kind: string; at: number; body: string; received_at: number }) => ({ agentId: e.agent_id, id: e.id, violationId: e.violation_id, kind: e.kind, at: iso(e.at), receivedAt: iso(e.received_at), event: json(e.body) });
    const nudgeRow = (n: { agent_id: string; id: string; violation_id: string; app: string; user: string | null; outcome: string; at: number; detail: string | null }) => ({ agentId: n.agent_id, id: n.id, violationId: n.violation_id, app: n.app, user: n.user, outcome: n.outcome, at: iso(n.at), detail: n.detail });
    for (const v of vs) {
      for (const e of ev.all(v.agent_id, v.id)) events.set(`${e.agent_id}/${e.id}`, eventRow(e));
      for (const n of nu.all(v.agent_id, v.id)) nudges.set(`${n.agent_id}/${n.id}`, nudgeRow(n));
      for (const r of db.prepare<[string, string], { status: string; by: string; at: number; note: string }>('SELECT status, by, at, note FROM reviews WHERE agent_id = ? AND violation_id = ? ORDER BY at, seq').all(v.agent_id, v.id)) {
        reviews.push({ agentId: v.agent_id, violationId: v.id, status: r.status, by: r.by, at: iso(r.at), note: r.note });
      }
    }
    // Rows naming them outside their own violations (a later event of someone else's).
    for (const e of db.prepare<string[], Parameters<typeof eventRow>[0]>(`SELECT * FROM events WHERE json_extract(body, '$.user') IN (${inList(names)})`).all(...names)) events.set(`${e.agent_id}/${e.id}`, eventRow(e));
    for (const n of db.prepare<string[], Parameters<typeof nudgeRow>[0]>(`SELECT * FROM nudges WHERE user IN (${inList(names)})`).all(...names)) nudges.set(`${n.agent_id}/${n.id}`, nudgeRow(n));
    const reveals = db.prepare<[string], { agent_id: string; violation_id: string; by: string; at: number; reason: string }>('SELECT agent_id, violation_id, by, at, reason FROM reveals WHERE pseudonym = ? ORDER BY at').all(pseudonym)
      .map((r) => ({ agentId: r.agent_id, violationId: r.violation_id, by: r.by, at: iso(r.at), reason: r.reason }));
    const dash = dashboardUser(name);
    const audit = db.prepare<[string, string, string], { seq: number; at: number; actor: string; action: string; detail: string }>(
      "SELECT * FROM audit WHERE instr(detail, ?) > 0 OR actor = ? COLLATE NOCASE OR json_extract(detail, '$.name') = ? COLLATE NOCASE ORDER BY seq",
    ).all(pseudonym, dash?.name ?? '\u0000', dash?.name ?? '\u0000');
    const mentioning = auditMentioning(needles);
    const ids = new Set(audit.map((a) => a.seq));
    if ([...mentioning].some((seq) => !ids.has(seq))) {
      audit.push(...db.prepare<[], typeof audit[number]>(`SELECT * FROM audit WHERE seq IN (${[...mentioning].filter((seq) => !ids.has(seq)).join(',')})`).all());
      audit.sort((a, b) => a.seq - b.seq);
    }
    const auditOut = audit.map((a) => ({ seq: a.seq, at: iso(a.at), actor: a.actor, action: a.action, detail: json(a.detail) }));
    return {
      v: 1,
      generatedAt: new Date().toISOString(),
      subject: { name, pseudonym, spellings: names.filter((n) => n !== name) },
      violations: vs.map(violationExport),
      events: [...events.values()],
      nudges: [...nudges.values()],
      exceptions: db.prepare<string[], { agent_id: string; violation_id: string; app: string; reason: string; label: string; claimed_at: number; until: number; decision: string | null; decided_by: string | null; note: string }>(
        `SELECT * FROM exceptions WHERE user IN (${inList(names)}) ORDER BY claimed_at`,
      ).all(...names).map((e) => ({ agentId: e.agent_id, violationId: e.violation_id, app: e.app, reason: e.reason, label: e.label, claimedAt: iso(e.claimed_at), until: iso(e.until), decision: e.decision, decidedBy: e.decided_by, note: e.note })),
      reviews,
      reveals,
      dashboardUser: dash && {
        name: dash.name, role: dash.role, matchedBy: dash.matchedBy, createdAt: iso(dash.created_at), disabledAt: iso(dash.disabled_at),
        sessions: db.prepare<[string], { created_at: number; last_seen: number; expires_at: number }>('SELECT created_at, last_seen, expires_at FROM sessions WHERE user_name = ? ORDER BY created_at').all(dash.name)
          .map((s) => ({ createdAt: iso(s.created_at), lastSeen: iso(s.last_seen), expiresAt: iso(s.expires_at) })),
        loginFailures: db.prepare<[string], { ip: string; at: number }>('SELECT ip, at FROM login_failures WHERE user_name = ? ORDER BY at').all(dash.name.toLowerCase()).map((f) => ({ ip: f.ip, at: iso(f.at) })),
        knownAddresses: db.prepare<[string], { ip: string; last_ok: number }>('SELECT ip, last_ok FROM login_known WHERE user_name = ?').all(dash.name).map((k) => ({ ip: k.ip, lastSignIn: iso(k.last_ok) })),
        reviewsMade: db.prepare<[string], { agent_id: string; violation_id: string; status: string; at: number; note: string }>('SELECT agent_id, violation_id, status, at, note FROM reviews WHERE by = ? COLLATE NOCASE ORDER BY at').all(dash.name)
          .map((r) => ({ agentId: r.agent_id, violationId: r.violation_id, status: r.status, at: iso(r.at), note: r.note })),
      },
      audit: auditOut,
    };
  }

  function eraseSubject(name: string, actor: string, record: (actor: string, action: string, detail: Record<string, unknown>) => void) {
    const { pseudonym, names, needles } = identify(name);
    const re = needles.length ? new RegExp(needles.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'gi') : null;
    const scrub = (text: string | null) => (text === null || !re ? text : text.replace(re, '[erased]'));
    return db.transaction(() => {
      const counts = { violations: 0, events: 0, nudges: 0, exceptions: 0, reviewNotes: 0, reveals: 0, auditNotes: 0, dashboardTraces: 0 };
      const delEvents = db.prepare('DELETE FROM events WHERE agent_id = ? AND violation_id = ?');
      const delNudges = db.prepare('DELETE FROM nudges WHERE agent_id = ? AND violation_id = ?');
      const update = db.prepare('UPDATE violations SET user = ?, evidence = ?, ack_note = ? WHERE seq = ?');
      // The filter list of users loses the name (the violation now counts under "erased").
      const rollups = createRollups(db);
      for (const v of violationsOf(names)) {
        counts.events += delEvents.run(v.agent_id, v.id).changes;
        counts.nudges += delNudges.run(v.agent_id, v.id).changes;
        const evidence = (JSON.parse(v.evidence) as string[]).map((l) => scrub(l) ?? l);
        rollups.track(v.agent_id, v.id, () => update.run(ERASED, JSON.stringify(evidence), scrub(v.ack_note), v.seq));
        for (const r of db.prepare<[string, string], { seq: number; note: string }>('SELECT seq, note FROM reviews WHERE agent_id = ? AND violation_id = ?').all(v.agent_id, v.id)) {
          const note = scrub(r.note) ?? '';
          if (note !== r.note) counts.reviewNotes += db.prepare('UPDATE reviews SET note = ? WHERE seq = ?').run(note, r.seq).changes;
        }
        counts.violations++;
      }
      counts.events += db.prepare(`DELETE FROM events WHERE json_extract(body, '$.user') IN (${inList(names)})`).run(...names).changes;
      counts.nudges += db.prepare(`DELETE FROM nudges WHERE user IN (${inList(names)})`).run(...names).changes;
      // A clinician's exception claims (reason, window) are theirs too: the violation stays, the claim goes.
      // One by one: each violation's roll-ups lose its claim.
      const delClaim = db.prepare('DELETE FROM exceptions WHERE agent_id = ? AND violation_id = ?');
      for (const x of db.prepare<string[], { agent_id: string; violation_id: string }>(`SELECT agent_id, violation_id FROM exceptions WHERE user IN (${inList(names)})`).all(...names)) {
        counts.exceptions += rollups.track(x.agent_id, x.violation_id, () => delClaim.run(x.agent_id, x.violation_id).changes);
      }
      for (const r of db.prepare<[string], { seq: number; reason: string }>('SELECT seq, reason FROM reveals WHERE pseudonym = ?').all(pseudonym)) {
        counts.reveals += db.prepare('UPDATE reveals SET pseudonym = ?, reason = ? WHERE seq = ?').run('erased', scrub(r.reason), r.seq).changes;
      }
      db.prepare(`DELETE FROM people WHERE name IN (${inList(names)})`).run(...names);
      // The audit stays, but free text in it (a note on a review, a search typed into the
      // feed) loses their name; LIKE finds candidates (any case), the JSON is scrubbed value by value.
      const deep = (v: unknown): unknown => (typeof v === 'string' ? scrub(v) : Array.isArray(v) ? v.map(deep) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, deep(x)])) : v);
      for (const seq of auditMentioning(needles)) {
        const a = db.prepare<[number], { detail: string }>('SELECT detail FROM audit WHERE seq = ?').get(seq)!;
        const detail = JSON.stringify(deep(json(a.detail)));
        if (detail !== a.detail) counts.auditNotes += db.prepare('UPDATE audit SET detail = ? WHERE seq = ?').run(detail, seq).changes;
      }
      const dash = dashboardUser(name);
      if (dash) {
        counts.dashboardTraces += db.prepare('DELETE FROM login_failures WHERE user_name = ?').run(dash.name.toLowerCase()).changes;
        counts.dashboardTraces += db.prepare('DELETE FROM login_known WHERE user_name = ?').run(dash.name).changes;
      }
      // Who erased whom and when: the pseudonym, never the name (the name is what was erased).
      record(actor, 'subject-erase', { pseudonym, ...counts });
      return {
        subject: { pseudonym },
        erased: counts,
        kept: erasureKept(dash),
      };
    }).immediate(); // it reads before it writes: see violations.ts ingest
  }

  return { identify, exportSubject, eraseSubject };
}

export type Subjects = ReturnType<typeof createSubjects>;
