/**
 * Data-subject requests: `subject export NAME` / `subject erase NAME` as real CLI child
 * processes on a real store (the server running beside them), and the same through the
 * admin API. Erase leaves none of the subject's rows, other clinicians untouched, counts
 * kept, and is audited by pseudonym (never the name).
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { createStore } from '../../server/store/index.js';
import { EraseReply } from '../../shared/api-types.js';
import { runCli } from '../support/processes.js';
import { startTestServer, tempDir, TEST_SECRET, type TestServer } from '../support/server.js';
import { connectRaw, eventFrame, helloFrame, makeEvent } from '../support/ws-client.js';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const LEE = 'CLINIC\\dr.lee';
const OKAFOR = 'CLINIC\\n.okafor';

async function seeded() {
  const dataDir = tempDir('cg-subj-');
  const store = createStore(dataDir);
  const admin = (await store.apiTokens.create('admin', 'dpo')).token;
  await store.close();
  server = await startTestServer({ dataDir });
  const s = server;
  const c = await connectRaw(s.wsUrl);
  const hello = helloFrame({ enrollSecret: TEST_SECRET });
  c.send(hello);
  await c.next('welcome');
  const lee = makeEvent({ user: LEE, evidence: ['camera in use by C:\\Users\\dr.lee\\AppData\\Roaming\\Zoom\\bin\\Zoom.exe'] });
  const leeEnd = makeEvent({ violationId: lee.violationId, kind: 'ended', user: LEE, evidence: ['app closed'] });
  const okafor = makeEvent({ user: OKAFOR, app: 'whatsapp' });
  c.send(eventFrame(1, [lee, leeEnd, okafor]));
  await c.next('ack');
  c.send({ type: 'nudges', batch: 2, nudges: [
    { id: randomUUID(), violationId: lee.violationId, app: 'zoom', user: LEE, outcome: 'shown', at: new Date().toISOString() },
    { id: randomUUID(), violationId: okafor.violationId, app: 'whatsapp', user: OKAFOR, outcome: 'shown', at: new Date().toISOString() },
    // Both claimed an exception: the subject's claim is theirs to export and to erase.
    ...[[lee, LEE, 'zoom'], [okafor, OKAFOR, 'whatsapp']].map(([v, user, app]) => ({
      id: randomUUID(), violationId: (v as typeof lee).violationId, app: app as string, user: user as string, outcome: 'exception' as const, at: new Date().toISOString(),
      reason: 'emergency', until: new Date(Date.now() + 3_600_000).toISOString(), detail: 'exception claimed: Emergency',
    })),
  ] });
  await c.next('ack');
  c.close();
  const post = (path: string, token: string, body: unknown) => fetch(`${s.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect((await post(`/api/violations/${hello.agentId}/${lee.violationId}/ack`, s.apiToken, { status: 'resolved', note: 'talked to dr.lee about it' })).status).toBe(200);
  expect((await post(`/api/violations/${hello.agentId}/${lee.violationId}/reveal`, s.apiToken, { reason: 'HR case 99' })).status).toBe(200);
  return { s, admin, agentId: hello.agentId, lee, okafor, post };
}

describe('subject export and erase (CLI)', () => {
  it('exports everything about one clinician, erases it leaving none of their rows and the others untouched, audited by pseudonym', async () => {
    const { s, admin, agentId, lee, okafor } = await seeded();
    const exp = await runCli('server', ['subject', 'export', LEE, '--data', s.dataDir]);
    expect(exp.stderr).toBe('');
    expect(exp.code).toBe(0);
    const data = JSON.parse(exp.stdout);
    expect(data.subject).toMatchObject({ name: LEE, pseudonym: expect.stringMatching(/^clinician-[0-9a-f]{8}$/) });
    expect(data.violations).toHaveLength(1);
    expect(data.violations[0]).toMatchObject({ id: lee.violationId, agentId, user: LEE, app: 'zoom', ack: { status: 'resolved', note: 'talked to dr.lee about it' } });
    expect(data.events.map((e: { id: string }) => e.id).sort()).toEqual([lee.id, (data.events as Array<{ id: string; kind: string }>).find((e) => e.kind === 'ended')!.id].sort());
    expect(data.nudges).toHaveLength(2); // shown, and the exception claimed
    expect(data.reviews).toHaveLength(1);
    expect(data.reveals).toMatchObject([{ by: 'token:test', reason: 'HR case 99' }]);
    expect(data.exceptions).toMatchObject([{ violationId: lee.violationId, reason: 'emergency', label: 'Emergency' }]);
    expect(data.audit.map((a: { action: string }) => a.action)).toEqual(expect.arrayContaining(['reveal-name', 'resolve'])); // resolve: its note names them
    expect(JSON.stringify(data)).not.toMatch(/okafor/i);
    const pseudonym = data.subject.pseudonym as string;

    const er = await runCli('server', ['subject', 'erase', LEE, '--data', s.dataDir, '--reference', 'DSR-2026-17']);
    expect(er.code).toBe(0);
    expect(JSON.parse(er.stdout)).toMatchObject({ subject: { pseudonym }, erased: { violations: 1, events: 2, nudges: 2, exceptions: 1, reveals: 1, reviewNotes: 1 } });
    expect(EraseReply.safeParse(JSON.parse(er.stdout)).success).toBe(true);

    const after = JSON.parse((await runCli('server', ['subject', 'export', LEE, '--data', s.dataDir])).stdout);
    for (const k of ['violations', 'events', 'nudges', 'exceptions', 'reviews', 'reveals']) expect(after[k]).toEqual([]);
    // Nothing in the store holds the name any more (the audit included); the other clinician is whole.
    const db = new Database(join(s.dataDir, 'consultguard.db'), { readonly: true });
    try {
      for (const t of ['violations', 'events', 'nudges', 'exceptions', 'reviews', 'reveals', 'people', 'audit']) {
        const rows = db.prepare(`SELECT * FROM ${t}`).all();
        expect(JSON.stringify(rows), t).not.toMatch(/dr\.lee/i);
      }
      expect(db.prepare('SELECT count(*) AS n FROM violations').get()).toEqual({ n: 2 }); // counts stay
    } finally {
      db.close();
    }
    const other = JSON.parse((await runCli('server', ['subject', 'export', OKAFOR, '--data', s.dataDir])).stdout);
    expect(other.violations).toMatchObject([{ id: okafor.violationId, user: OKAFOR }]);
    expect(other.events).toHaveLength(1);
    expect(other.nudges).toHaveLength(2);
    expect(other.exceptions).toMatchObject([{ violationId: okafor.violationId, reason: 'emergency' }]);

    // The feed still counts the erased violation, shown as erased.
    const feed = (await (await fetch(`${s.url}/api/violations`, { headers: { authorization: `Bearer ${s.apiToken}` } })).json()) as { items: Array<{ id: string; user: string; userKind: string; evidence: string[] }> };
    expect(feed.items.find((v) => v.id === lee.violationId)).toMatchObject({ user: 'erased', userKind: 'erased' });
    // A reveal of an erased clinician says so.
    const r = await fetch(`${s.url}/api/violations/${agentId}/${lee.violationId}/reveal`, { method: 'POST', headers: { authorization: `Bearer ${s.apiToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'after erasure' }) });
    expect(r.status).toBe(404);
    expect(((await r.json()) as any).error.message).toMatch(/erased by a data-subject request/);

    const audit = (await (await fetch(`${s.url}/api/audit`, { headers: { authorization: `Bearer ${admin}` } })).json()) as { items: Array<{ actor: string; action: string; detail: any }> };
    const erase = audit.items.find((a) => a.action === 'subject-erase');
    expect(erase).toMatchObject({ actor: expect.stringMatching(/^cli:/), detail: { pseudonym, violations: 1, reference: 'DSR-2026-17' } });
    expect(audit.items.filter((a) => a.action === 'subject-export')).toHaveLength(3);
  });

  it('takes --database sqlite:PATH, names an unreachable PostgreSQL store and what to check, and names a missing NAME', async () => {
    const { s } = await seeded();
    const url = `sqlite:${join(s.dataDir, 'consultguard.db')}`;
    const exp = await runCli('server', ['subject', 'export', OKAFOR, '--database', url]);
    expect(exp.code).toBe(0);
    expect(JSON.parse(exp.stdout).violations).toHaveLength(1);
    // Port 1 on loopback: nothing listens there (the subject commands on a real PostgreSQL run in test/store/).
    const pg = await runCli('server', ['subject', 'export', OKAFOR, '--database', 'postgres://cg@127.0.0.1:1/cg']);
    expect(pg.code).toBe(1);
    expect(pg.stderr).toMatch(/cannot reach the PostgreSQL store at 127\.0\.0\.1:1\/cg as cg \(ECONNREFUSED\); check the host and port in --database/);
    const bad = await runCli('server', ['subject', 'export', OKAFOR], { CONSULTGUARD_DATABASE_URL: 'mysql://x' });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/expected sqlite:PATH/);
    const none = await runCli('server', ['subject', 'erase', '--data', s.dataDir]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/subject erase: expected the user name/);
  });
});

describe('--database sqlite:PATH for the server', () => {
  it('keeps the store at that file, and the CLI reaches it by the same URL', async () => {
    const dir = tempDir('cg-dburl-');
    const file = join(dir, 'elsewhere', 'guard.db');
    server = await startTestServer({ dataDir: join(dir, 'data'), database: `sqlite:${file}` } as never);
    // startTestServer made its token in DATA/consultguard.db; this store is another file.
    const made = await runCli('server', ['token', 'create', '--role', 'lead', '--database', `sqlite://${file}`]);
    expect(made.code).toBe(0);
    const res = await fetch(`${server.url}/api/violations`, { headers: { authorization: `Bearer ${made.stdout.trim()}` } });
    expect(res.status).toBe(200);
    expect((await fetch(`${server.url}/api/violations`, { headers: { authorization: `Bearer ${server.apiToken}` } })).status).toBe(401);
  });
});

describe('subject export and erase (admin API)', () => {
  it('is admin-only, answers the export, erases, and audits both by pseudonym', async () => {
    const { s, admin, post } = await seeded();
    const path = `/api/subjects/${encodeURIComponent(LEE)}`;
    const asLead = await fetch(`${s.url}${path}/export`, { headers: { authorization: `Bearer ${s.apiToken}` } });
    expect(asLead.status).toBe(403);
    const exp = await fetch(`${s.url}${path}/export`, { headers: { authorization: `Bearer ${admin}` } });
    expect(exp.status).toBe(200);
    const data = (await exp.json()) as any;
    expect(data.violations).toHaveLength(1);
    expect(data.nudges).toHaveLength(2);
    expect(data.exceptions).toHaveLength(1);
    expect((await post(`${path}/erase`, s.apiToken, {})).status).toBe(403);
    const er = await post(`${path}/erase`, admin, { reference: 'DSR-18' });
    expect(er.status).toBe(200);
    expect(((await er.json()) as any).erased).toMatchObject({ violations: 1, events: 2, nudges: 2, exceptions: 1 });
    const again = (await (await fetch(`${s.url}${path}/export`, { headers: { authorization: `Bearer ${admin}` } })).json()) as any;
    expect(again.violations).toEqual([]);
    expect(again.events).toEqual([]);
    const audit = (await (await fetch(`${s.url}/api/audit`, { headers: { authorization: `Bearer ${admin}` } })).json()) as { items: Array<{ actor: string; action: string; detail: any }> };
    expect(audit.items.filter((a) => a.action.startsWith('subject-')).map((a) => `${a.actor} ${a.action} ${a.detail.pseudonym}`)).toEqual([
      `token:dpo subject-export ${data.subject.pseudonym}`,
      `token:dpo subject-erase ${data.subject.pseudonym}`,
      `token:dpo subject-export ${data.subject.pseudonym}`,
    ]);
    expect(JSON.stringify(audit)).not.toMatch(/dr\.lee/i);
  });

  it('includes a dashboard login of the same account (its sign-in traces, reviews made) and erases the traces, keeping the login', async () => {
    const { s, admin, post } = await seeded();
    const store = createStore(s.dataDir);
    await store.users.add('dr.lee', 'lead', 'a long lead password');
    await store.close();
    const wrong = await fetch(`${s.url}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'dr.lee', password: 'not the password' }) });
    expect(wrong.status).toBe(401);
    const path = `/api/subjects/${encodeURIComponent(LEE)}`;
    const data = (await (await fetch(`${s.url}${path}/export`, { headers: { authorization: `Bearer ${admin}` } })).json()) as any;
    expect(data.dashboardUser).toMatchObject({ name: 'dr.lee', role: 'lead', matchedBy: 'account part "dr.lee" of the name', loginFailures: [{ ip: expect.any(String) }] });
    expect(data.audit.map((a: { action: string }) => a.action)).toContain('login-failed');
    const er = (await (await post(`${path}/erase`, admin, {})).json()) as any;
    expect(er.erased.dashboardTraces).toBe(1);
    expect(er.kept.join(' ')).toMatch(/dashboard login "dr\.lee".*user disable dr\.lee/);
    const again = (await (await fetch(`${s.url}${path}/export`, { headers: { authorization: `Bearer ${admin}` } })).json()) as any;
    expect(again.dashboardUser.loginFailures).toEqual([]);
  });
});
