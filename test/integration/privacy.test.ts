/**
 * Privacy by design (issue 14), as an outside client sees it: a real server on a loopback
 * port, a real SQLite file, real agents over WebSocket, the real CLI as a child process.
 * Pseudonyms by default everywhere a clinician shows (feed, detail, CSV, trends, filters,
 * SIEM file); a reveal needs a reason and is audited and in the timeline; --show-names is
 * the clinic's switch. What this cannot show: the agent side (collection switches, the `h:`
 * hash made on the workstation): here a raw client sends what such an agent would.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createStore } from '../../server/store/index.js';
import { RevealReply } from '../../shared/api-types.js';
import { runCli } from '../support/processes.js';
import { startTestServer, tempDir, TEST_SECRET, type TestServer } from '../support/server.js';
import { connectRaw, eventFrame, helloFrame, makeEvent } from '../support/ws-client.js';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const LEE = 'CLINIC\\dr.lee';
const PSEUDONYM = /^clinician-[0-9a-f]{8}$/;

async function start(opts: Parameters<typeof startTestServer>[0] = {}) {
  const dataDir = opts.dataDir ?? tempDir('cg-priv-');
  const store = createStore(dataDir);
  const admin = (await store.apiTokens.create('admin', 'dpo')).token;
  await store.close();
  server = await startTestServer({ ...opts, dataDir });
  return { s: server, admin };
}

/** One agent reporting `events`; answers its id. */
async function report(s: TestServer, events: Array<Record<string, unknown>>, hostname = 'NORTH-PC-01'): Promise<string> {
  const c = await connectRaw(s.wsUrl);
  const hello = helloFrame({ enrollSecret: TEST_SECRET, host: { hostname, platform: 'win32', osVersion: '10.0.22631', agentVersion: '0.1.0' } });
  c.send(hello);
  await c.next('welcome');
  c.send(eventFrame(1, events));
  await c.next('ack');
  c.close();
  return hello.agentId;
}

function call(s: TestServer, method: string, path: string, token: string, body?: unknown) {
  return fetch(`${s.url}${path}`, {
    method, redirect: 'manual',
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

describe('pseudonymous by default', () => {
  it('shows one stable pseudonym per clinician in the feed, detail, CSV, trends, filters and the SIEM file, never the name', async () => {
    const dir = tempDir('cg-siem-');
    const forwardFile = join(dir, 'siem.jsonl');
    const { s } = await start({ forwardFile });
    const lee = makeEvent({ user: LEE, evidence: ['camera in use by C:\\Users\\dr.lee\\AppData\\Roaming\\Zoom\\bin\\Zoom.exe'] });
    const agentA = await report(s, [lee, makeEvent({ user: 'CLINIC\\n.okafor', app: 'whatsapp' })]);
    // The same person reported by another workstation, in another case (Windows names are case-insensitive).
    await report(s, [makeEvent({ user: 'clinic\\DR.LEE', app: 'facetime' })], 'SOUTH-PC-02');

    const feed = await call(s, 'GET', '/api/violations', s.apiToken);
    const feedText = await feed.text();
    expect(feedText).not.toMatch(/dr\.lee|okafor/i);
    const items = (JSON.parse(feedText) as { items: Array<{ app: string; user: string; userKind: string; evidence: string[] }> }).items;
    expect(items).toHaveLength(3);
    for (const v of items) expect(v.user).toMatch(PSEUDONYM);
    const leeP = items.find((v) => v.app === 'zoom')!.user;
    expect(items.find((v) => v.app === 'facetime')!.user).toBe(leeP);
    expect(items.find((v) => v.app === 'whatsapp')!.user).not.toBe(leeP);
    expect(items.find((v) => v.app === 'zoom')).toMatchObject({ userKind: 'pseudonym', evidence: ['camera in use by C:\\Users\\…\\AppData\\Roaming\\Zoom\\bin\\Zoom.exe'] });

    // The filter takes the pseudonym (every spelling of that person); the name finds nothing, nor does free text.
    const byP = (await (await call(s, 'GET', `/api/violations?user=${leeP}`, s.apiToken)).json()) as { items: Array<{ app: string }> };
    expect(byP.items.map((v) => v.app).sort()).toEqual(['facetime', 'zoom']);
    expect(((await (await call(s, 'GET', `/api/violations?user=${encodeURIComponent(LEE)}`, s.apiToken)).json()) as { items: unknown[] }).items).toHaveLength(0);
    expect(((await (await call(s, 'GET', '/api/violations?q=dr.lee', s.apiToken)).json()) as { items: unknown[] }).items).toHaveLength(0);
    expect(((await (await call(s, 'GET', `/api/violations?q=${leeP.slice(0, 14)}`, s.apiToken)).json()) as { items: unknown[] }).items).toHaveLength(2);

    const detail = await (await call(s, 'GET', `/api/violations/${agentA}/${lee.violationId}`, s.apiToken)).text();
    expect(detail).not.toMatch(/dr\.lee/i);
    expect(JSON.parse(detail).violation.user).toBe(leeP);
    const csv = await (await call(s, 'GET', '/api/violations.csv', s.apiToken)).text();
    expect(csv).not.toMatch(/dr\.lee|okafor/i);
    expect(csv).toContain(leeP);
    const trends = await (await call(s, 'GET', '/api/trends', s.apiToken)).text();
    expect(trends).not.toMatch(/dr\.lee|okafor/i);
    const filters = (await (await call(s, 'GET', '/api/filters', s.apiToken)).json()) as { users: string[] };
    expect(filters.users).toHaveLength(2);
    for (const u of filters.users) expect(u).toMatch(PSEUDONYM);

    await vi.waitFor(() => expect(readFileSync(forwardFile, 'utf8').trim().split('\n')).toHaveLength(3));
    const siem = readFileSync(forwardFile, 'utf8');
    expect(siem).not.toMatch(/dr\.lee|okafor/i);
    const lines = siem.trim().split('\n').map((l) => JSON.parse(l) as { user: string; app: string });
    expect(lines.find((l) => l.app === 'zoom')!.user).toBe(leeP);
    expect(lines.find((l) => l.app === 'facetime')!.user).toBe(leeP);
  });

  it('a keyed hash from the workstation is pseudonymised but can never be revealed, and says why', async () => {
    const { s } = await start();
    const e = makeEvent({ user: 'h:3f9a0c27d1e4b5a6c7d8e9f0a1b2c3d4' });
    const agent = await report(s, [e]);
    const { items } = (await (await call(s, 'GET', '/api/violations', s.apiToken)).json()) as { items: Array<{ user: string; userKind: string }> };
    expect(items[0]).toMatchObject({ user: expect.stringMatching(PSEUDONYM), userKind: 'hashed' });
    const r = await call(s, 'POST', `/api/violations/${agent}/${e.violationId}/reveal`, s.apiToken, { reason: 'incident 4711' });
    expect(r.status).toBe(404);
    expect(((await r.json()) as any).error.message).toMatch(/keyed hash.*never reached the server/);
  });
});

describe('reveal', () => {
  it('needs a reason, answers the name to the caller only, and is in the audit and the timeline (the reason, never the name)', async () => {
    const { s, admin } = await start();
    const e = makeEvent({ user: LEE });
    const agent = await report(s, [e]);
    const path = `/api/violations/${agent}/${e.violationId}`;

    for (const body of [undefined, {}, { reason: '' }, { reason: '   ' }, { reason: 42 }]) {
      const r = await call(s, 'POST', `${path}/reveal`, s.apiToken, body);
      expect(r.status).toBe(400);
      const err = ((await r.json()) as any).error;
      expect(err.code).toBe('bad_request');
      expect(err.message).toMatch(/reason/);
    }
    const ok = await call(s, 'POST', `${path}/reveal`, s.apiToken, { reason: 'clinician asked about incident 4711' });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('cache-control')).toBe('no-store');
    const body = (await ok.json()) as any;
    expect(body).toMatchObject({ user: LEE, pseudonym: expect.stringMatching(PSEUDONYM), by: 'token:test', reason: 'clinician asked about incident 4711' });
    expect(RevealReply.strict().parse(body)).toEqual(body); // the documented shape, nothing more

    // Not cached into the feed: the next read is the pseudonym again.
    const again = (await (await call(s, 'GET', path, s.apiToken)).json()) as any;
    expect(again.violation.user).toBe(body.pseudonym);
    const entry = again.timeline.find((t: { kind: string }) => t.kind === 'name-revealed');
    expect(entry).toMatchObject({ by: 'token:test', note: 'clinician asked about incident 4711' });
    expect(JSON.stringify(again)).not.toMatch(/dr\.lee/i);

    const audit = (await (await call(s, 'GET', '/api/audit', admin)).json()) as { items: Array<{ actor: string; action: string; detail: Record<string, unknown> }> };
    const reveal = audit.items.find((a) => a.action === 'reveal-name');
    expect(reveal).toMatchObject({ actor: 'token:test', detail: { agentId: agent, id: e.violationId, pseudonym: body.pseudonym, reason: 'clinician asked about incident 4711' } });
    expect(JSON.stringify(audit)).not.toMatch(/dr\.lee/i);
  });

  it('the contract address POST /api/violations/:id/reveal works for a unique id and is a 400 naming both parts when two agents share it', async () => {
    const { s } = await start();
    const shared = makeEvent({ user: LEE });
    const unique = makeEvent({ user: 'CLINIC\\n.okafor' });
    await report(s, [shared, unique]);
    await report(s, [{ ...shared, id: crypto.randomUUID() }], 'SOUTH-PC-02');
    const one = await call(s, 'POST', `/api/violations/${unique.violationId}/reveal`, s.apiToken, { reason: 'works council case 12' });
    expect(one.status).toBe(200);
    expect(((await one.json()) as any).user).toBe('CLINIC\\n.okafor');
    const two = await call(s, 'POST', `/api/violations/${shared.violationId}/reveal`, s.apiToken, { reason: 'works council case 12' });
    expect(two.status).toBe(400);
    expect(((await two.json()) as any).error.message).toMatch(/used by 2 agents.*AGENT_ID/);
    expect((await call(s, 'POST', `/api/violations/${crypto.randomUUID()}/reveal`, s.apiToken, { reason: 'no such one' })).status).toBe(404);
  });

  it('--show-names (the clinic\'s decision) shows names in the feed, the CSV and the SIEM file', async () => {
    const dir = tempDir('cg-siem-');
    const { s } = await start({ showNames: true, forwardFile: join(dir, 'siem.jsonl') });
    await report(s, [makeEvent({ user: LEE })]);
    const { items } = (await (await call(s, 'GET', `/api/violations?user=${encodeURIComponent(LEE)}`, s.apiToken)).json()) as { items: Array<{ user: string; userKind: string }> };
    expect(items[0]).toMatchObject({ user: LEE, userKind: 'name' });
    expect(await (await call(s, 'GET', '/api/violations.csv', s.apiToken)).text()).toContain(LEE);
    await vi.waitFor(() => expect(readFileSync(join(dir, 'siem.jsonl'), 'utf8')).toContain('CLINIC\\\\dr.lee'));
  });

  it('CONSULTGUARD_SHOW_NAMES and --show-names are read as the other options are; a bad value exits 2 naming it', async () => {
    const r = await runCli('server', ['--show-names', '--port', '0', '--data', tempDir(), '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--show-names/);
    const bad = await runCli('server', ['--port', '0', '--data', tempDir()], { CONSULTGUARD_SHOW_NAMES: 'maybe' });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/CONSULTGUARD_SHOW_NAMES: expected true or false/);
  });
});

describe('pseudonyms on the live feed and on an upgraded store', () => {
  it('pushes pseudonyms on the live stream', async () => {
    const { s } = await start();
    const res = await fetch(`${s.url}/api/violations/stream`, { headers: { authorization: `Bearer ${s.apiToken}` } });
    const reader = res.body!.getReader();
    await report(s, [makeEvent({ user: LEE })]);
    let text = '';
    while (!text.includes('event: violation')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    await reader.cancel();
    const frame = text.slice(text.indexOf('event: violation'));
    expect(frame).not.toMatch(/dr\.lee/i);
    expect(JSON.parse(frame.split('data: ')[1]!.split('\n')[0]!).user).toMatch(PSEUDONYM);
  });

  it('a store made before the privacy migration gets its names learnt once, so pseudonym filters find old rows', async () => {
    const dataDir = tempDir('cg-upgrade-');
    const { migrations } = await import('../../server/store/migrations/index.js');
    const Database = (await import('better-sqlite3')).default;
    const db = new Database(join(dataDir, 'consultguard.db'));
    db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT');
    for (const m of migrations.filter((x) => x.version < 9)) {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations VALUES (?, ?, ?)').run(m.version, m.name, Date.now());
    }
    db.prepare(`INSERT INTO violations (id, agent_id, hostname, site, user, app, state, via, started_at, ended_at, evidence, updated_at)
      VALUES ('v-old', 'a-old', 'PC', NULL, ?, 'zoom', 'running', 'process', ?, NULL, '[]', ?)`).run(LEE, Date.now(), Date.now());
    db.close();
    const store = createStore(dataDir);
    const p = store.people.pseudonym(LEE);
    expect((await store.violations.list({ user: p }, 10)).items.map((v) => v.id)).toEqual(['v-old']);
    expect((await store.violations.list({}, 10)).items[0]!.user).toBe(p);
    await store.close();
  });
});
