/**
 * Issue 11, HTTP side: credentials that end (logout, reset, disable, token revoke) end
 * everything opened with them, admin actions are audited, violations are addressed by
 * agent and id, bad paths are 400s, error replies carry no exception text, CSV cells are
 * safe in any spreadsheet locale, and the store's files are private. Real server on
 * loopback, real CLI processes, real SQLite file.
 */
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createStore } from '../../server/store/index.js';
import { csvCell } from '../../server/api/csv.js';
import { reportOneViolation } from '../support/enrol.js';
import { runCli } from '../support/processes.js';
import { startTestServer, tempDir, TEST_SECRET, type TestServer } from '../support/server.js';
import { connectRaw, eventFrame, helloFrame, makeEvent } from '../support/ws-client.js';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const PASSWORD = 'a long lead password';
const NEW_PASSWORD = 'another long password';

async function withUsers(): Promise<{ s: TestServer; admin: string }> {
  const dataDir = tempDir('cg-sec-');
  const store = createStore(dataDir);
  await store.users.add('lead1', 'lead', PASSWORD);
  const admin = (await store.apiTokens.create('admin', 'test-admin')).token;
  await store.close();
  const s = await startTestServer({ dataDir });
  return { s, admin };
}

async function login(s: TestServer, username: string, password: string) {
  const res = await fetch(`${s.url}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  const body = (await res.json()) as any;
  return { status: res.status, body, cookie: (res.headers.get('set-cookie') ?? '').split(';')[0]!, csrf: body.csrfToken as string };
}

function call(s: TestServer, method: string, path: string, auth: { token?: string; cookie?: string; csrf?: string }, body?: unknown) {
  const headers: Record<string, string> = {};
  if (auth.token) headers.authorization = `Bearer ${auth.token}`;
  if (auth.cookie) headers.cookie = auth.cookie;
  if (auth.csrf) headers['x-csrf-token'] = auth.csrf;
  if (body !== undefined) headers['content-type'] = 'application/json';
  return fetch(`${s.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), redirect: 'manual' });
}

/** Opens the live stream; `ended` turns true when the server ends it. */
async function openStream(s: TestServer, auth: { token?: string; cookie?: string }) {
  const res = await call(s, 'GET', '/api/violations/stream', auth);
  expect(res.status).toBe(200);
  const state = { ended: false };
  void (async () => {
    try {
      for await (const _ of res.body!) void _;
    } catch {
      // a reset connection is an end too
    }
    state.ended = true;
  })();
  return state;
}

async function audit(s: TestServer, admin: string): Promise<Array<{ actor: string; action: string; detail: Record<string, unknown> }>> {
  return ((await (await call(s, 'GET', '/api/audit?limit=500', { token: admin })).json()) as any).items;
}

describe('sessions end', () => {
  it('logout ends the live stream opened with that session', async () => {
    const { s } = await withUsers();
    server = s;
    const l = await login(s, 'lead1', PASSWORD);
    const other = await login(s, 'lead1', PASSWORD); // a second session of the same user keeps its stream
    const stream = await openStream(s, { cookie: l.cookie });
    const otherStream = await openStream(s, { cookie: other.cookie });
    expect((await call(s, 'DELETE', '/api/session', { cookie: l.cookie, csrf: l.csrf })).status).toBe(204);
    await vi.waitFor(() => expect(stream.ended).toBe(true));
    expect(otherStream.ended).toBe(false);
    expect((await call(s, 'GET', '/api/violations', { cookie: l.cookie })).status).toBe(401);
  });

  it('a password reset (API) ends the old sessions and their streams; the new password works', async () => {
    const { s, admin } = await withUsers();
    server = s;
    const l = await login(s, 'lead1', PASSWORD);
    const stream = await openStream(s, { cookie: l.cookie });
    const reset = await call(s, 'POST', '/api/users/LEAD1/reset', { token: admin }, { password: NEW_PASSWORD }); // names match in any case
    expect(reset.status).toBe(200);
    await vi.waitFor(() => expect(stream.ended).toBe(true));
    expect((await call(s, 'GET', '/api/violations', { cookie: l.cookie })).status).toBe(401);
    expect((await login(s, 'lead1', PASSWORD)).status).toBe(401);
    expect((await login(s, 'lead1', NEW_PASSWORD)).status).toBe(200);
  });

  it('`user reset NAME` (CLI, password on stdin) ends the old session', async () => {
    const { s } = await withUsers();
    server = s;
    const l = await login(s, 'lead1', PASSWORD);
    const r = await runCli('server', ['user', 'reset', 'lead1', '--data', s.dataDir], {}, `${NEW_PASSWORD}\n`);
    expect(r.code).toBe(0);
    expect((await call(s, 'GET', '/api/violations', { cookie: l.cookie })).status).toBe(401);
    expect((await login(s, 'lead1', NEW_PASSWORD)).status).toBe(200);
    const short = await runCli('server', ['user', 'reset', 'lead1', '--data', s.dataDir], {}, 'short\n');
    expect(short.code).toBe(2);
    expect(short.stderr).toMatch(/at least 12/);
    expect((await runCli('server', ['user', 'reset', 'nobody', '--data', s.dataDir], {}, `${NEW_PASSWORD}\n`)).stderr).toMatch(/no user nobody/);
  });

  it('`user disable NAME` (CLI): no more logins, the session and its stream end (another process: within seconds)', async () => {
    const { s } = await withUsers();
    server = s;
    const l = await login(s, 'lead1', PASSWORD);
    const stream = await openStream(s, { cookie: l.cookie });
    const r = await runCli('server', ['user', 'disable', 'lead1', '--data', s.dataDir]);
    expect(r.code).toBe(0);
    expect((await call(s, 'GET', '/api/violations', { cookie: l.cookie })).status).toBe(401);
    expect((await login(s, 'lead1', PASSWORD)).status).toBe(401);
    await vi.waitFor(() => expect(stream.ended).toBe(true), { timeout: 10_000 });
    expect((await runCli('server', ['user', 'list', '--data', s.dataDir])).stdout).toMatch(/lead1 {2}role=lead .*disabled=/);
  }, 20_000);

  it('disabling through the API works the same (user names match in any case)', async () => {
    const { s, admin } = await withUsers();
    server = s;
    const l = await login(s, 'lead1', PASSWORD);
    expect((await call(s, 'POST', '/api/users/LEAD1/disable', { token: admin })).status).toBe(200);
    expect((await call(s, 'GET', '/api/violations', { cookie: l.cookie })).status).toBe(401);
    expect((await login(s, 'lead1', PASSWORD)).status).toBe(401);
    const users = (await (await call(s, 'GET', '/api/users', { token: admin })).json()) as any;
    expect(users.items.find((u: { name: string }) => u.name === 'lead1').disabledAt).not.toBeNull();
  });
});

describe('API tokens', () => {
  it('are listed and revoked through the API; a revoked token gets 401 and its stream ends', async () => {
    const { s, admin } = await withUsers();
    server = s;
    const created = (await (await call(s, 'POST', '/api/tokens', { token: admin }, { role: 'lead', name: 'SIEM' })).json()) as { id: string; token: string };
    expect((await call(s, 'GET', '/api/violations', { token: created.token })).status).toBe(200);
    const stream = await openStream(s, { token: created.token });
    const list = (await (await call(s, 'GET', '/api/tokens', { token: admin })).json()) as any;
    const listed = list.items.find((t: { id: string }) => t.id === created.id);
    expect(listed).toMatchObject({ name: 'SIEM', role: 'lead', revokedAt: null });
    expect(JSON.stringify(list)).not.toContain(created.token);
    expect((await call(s, 'DELETE', `/api/tokens/${created.id}`, { token: admin })).status).toBe(200);
    const after = await call(s, 'GET', '/api/violations', { token: created.token });
    expect(after.status).toBe(401);
    expect(((await after.json()) as any).error.code).toBe('unauthorized');
    await vi.waitFor(() => expect(stream.ended).toBe(true));
    expect((await call(s, 'DELETE', `/api/tokens/${created.id}`, { token: admin })).status).toBe(404);
  });

  it('are listed and revoked from the CLI (`token list`, `token revoke ID`)', async () => {
    const { s } = await withUsers();
    server = s;
    const token = (await runCli('server', ['token', 'create', '--role', 'lead', '--name', 'nightly', '--data', s.dataDir])).stdout.trim();
    expect((await call(s, 'GET', '/api/violations', { token })).status).toBe(200);
    const list = await runCli('server', ['token', 'list', '--data', s.dataDir]);
    expect(list.code).toBe(0);
    expect(list.stdout).not.toContain(token);
    const line = list.stdout.split('\n').find((l) => l.includes('name=nightly'))!;
    const id = line.split(/\s+/)[0]!;
    expect((await runCli('server', ['token', 'revoke', id, '--data', s.dataDir])).code).toBe(0);
    expect((await call(s, 'GET', '/api/violations', { token })).status).toBe(401);
    expect((await runCli('server', ['token', 'list', '--data', s.dataDir])).stdout).toMatch(new RegExp(`${id} .*revoked=`));
  });
});

describe('audit of admin actions', () => {
  it('records token create/revoke and user add/reset/disable, from the API (by token) and the CLI (by OS user)', async () => {
    const { s, admin } = await withUsers();
    server = s;
    const cli = `cli:${userInfo().username}`;
    const created = (await (await call(s, 'POST', '/api/tokens', { token: admin }, { role: 'lead', name: 'api-made' })).json()) as { id: string };
    await call(s, 'DELETE', `/api/tokens/${created.id}`, { token: admin });
    await call(s, 'POST', '/api/users', { token: admin }, { name: 'api.user', role: 'lead', password: PASSWORD });
    await call(s, 'POST', '/api/users/api.user/reset', { token: admin }, { password: NEW_PASSWORD });
    await call(s, 'POST', '/api/users/api.user/disable', { token: admin });
    await runCli('server', ['token', 'create', '--role', 'admin', '--name', 'cli-made', '--data', s.dataDir]);
    await runCli('server', ['user', 'add', '--role', 'lead', 'cli.user', '--data', s.dataDir], {}, `${PASSWORD}\n`);
    await runCli('server', ['user', 'reset', 'cli.user', '--data', s.dataDir], {}, `${NEW_PASSWORD}\n`);
    await runCli('server', ['user', 'disable', 'cli.user', '--data', s.dataDir]);

    const items = await audit(s, admin);
    const seen = items.map((a) => `${a.actor} ${a.action} ${String(a.detail.id ?? a.detail.name ?? '')}`);
    expect(seen).toEqual(expect.arrayContaining([
      `token:test-admin token-create ${created.id}`,
      `token:test-admin token-revoke ${created.id}`,
      'token:test-admin user-add api.user',
      'token:test-admin user-reset api.user',
      'token:test-admin user-disable api.user',
      `${cli} user-add cli.user`,
      `${cli} user-reset cli.user`,
      `${cli} user-disable cli.user`,
    ]));
    expect(items.find((a) => a.actor === cli && a.action === 'token-create')?.detail).toMatchObject({ role: 'admin', name: 'cli-made' });
    expect(JSON.stringify(items)).not.toContain(PASSWORD);
    expect(JSON.stringify(items)).not.toContain(NEW_PASSWORD);
  }, 30_000);
});

describe('audit of enrolment-secret and agent actions', () => {
  it('records secret create/revoke and agent revoke from the API and the CLI, never the secret itself', async () => {
    const { s, admin } = await withUsers();
    server = s;
    const cli = `cli:${userInfo().username}`;
    const apiSecret = (await (await call(s, 'POST', '/api/enroll-secrets', { token: admin }, { site: 'north' })).json()) as { id: string; secret: string };
    await call(s, 'DELETE', `/api/enroll-secrets/${apiSecret.id}`, { token: admin });
    const made = await runCli('server', ['secret', 'create', '--site', 'south', '--data', s.dataDir]);
    expect(made.code).toBe(0);
    const cliSecret = made.stdout.trim();
    const listed = (await runCli('server', ['secret', 'list', '--data', s.dataDir])).stdout.split('\n').find((l) => l.includes('site=south'))!;
    const cliSecretId = listed.split(/\s+/)[0]!;
    expect((await runCli('server', ['secret', 'revoke', cliSecretId, '--data', s.dataDir])).code).toBe(0);

    // Two enrolled agents: one revoked through the API, one through the CLI.
    const ids: string[] = [];
    for (const hostname of ['AUDIT-1', 'AUDIT-2']) {
      const c = await connectRaw(s.wsUrl);
      const hello = helloFrame({ enrollSecret: TEST_SECRET, host: { hostname, platform: 'linux', osVersion: '6', agentVersion: '0.1.0' } });
      c.send(hello);
      await c.next('welcome');
      ids.push(hello.agentId as string);
      c.close();
    }
    await call(s, 'POST', `/api/agents/${ids[0]}/revoke`, { token: admin });
    expect((await runCli('server', ['agent', 'revoke', ids[1]!, '--data', s.dataDir])).code).toBe(0);

    const items = await audit(s, admin);
    const seen = items.map((a) => `${a.actor} ${a.action} ${String(a.detail.id ?? a.detail.agentId ?? '')}`);
    expect(seen).toEqual(expect.arrayContaining([
      `token:test-admin secret-create ${apiSecret.id}`,
      `token:test-admin secret-revoke ${apiSecret.id}`,
      `${cli} secret-revoke ${cliSecretId}`,
      `token:test-admin agent-revoke ${ids[0]}`,
      `${cli} agent-revoke ${ids[1]}`,
    ]));
    expect(items.find((a) => a.actor === cli && a.action === 'secret-create')?.detail).toMatchObject({ site: 'south' });
    expect(JSON.stringify(items)).not.toContain(apiSecret.secret);
    expect(JSON.stringify(items)).not.toContain(cliSecret);
  }, 30_000);
});

describe('violations are addressed by agent and id', () => {
  it('reviews two agents\' violations with the same violationId independently', async () => {
    server = await startTestServer();
    const violationId = randomUUID();
    const agents: string[] = [];
    for (const hostname of ['ROOM-1', 'ROOM-2']) {
      const c = await connectRaw(server.wsUrl);
      const hello = helloFrame({ enrollSecret: TEST_SECRET, host: { hostname, platform: 'win32', osVersion: '10', agentVersion: '0.1.0' } });
      c.send(hello);
      await c.next('welcome');
      c.send(eventFrame(1, [makeEvent({ violationId })]));
      await c.next('ack');
      c.close();
      agents.push(hello.agentId);
    }
    const [a, b] = agents as [string, string];
    const auth = { token: server.apiToken };
    const detailA = (await (await call(server, 'GET', `/api/violations/${a}/${violationId}`, auth)).json()) as any;
    const detailB = (await (await call(server, 'GET', `/api/violations/${b}/${violationId}`, auth)).json()) as any;
    expect([detailA.violation.hostname, detailB.violation.hostname]).toEqual(['ROOM-1', 'ROOM-2']);

    const res = await call(server, 'POST', `/api/violations/${a}/${violationId}/ack`, auth, { status: 'resolved', note: 'spoke to Dr A' });
    expect(res.status).toBe(200);
    expect(((await res.json()) as any).violation).toMatchObject({ agentId: a, ack: { status: 'resolved' } });
    const bAfter = (await (await call(server, 'GET', `/api/violations/${b}/${violationId}`, auth)).json()) as any;
    expect(bAfter.violation.ack).toBeNull();
    expect(bAfter.timeline.map((t: { kind: string }) => t.kind)).toEqual(['started']);
    // The feed keeps its shape: both rows, `id` the violationId, told apart by agentId.
    const feed = (await server.fetchJson('/api/violations')).body.items as Array<{ id: string; agentId: string; ack: unknown }>;
    expect(feed.map((v) => [v.agentId, v.id, v.ack === null]).sort()).toEqual([[a, violationId, false], [b, violationId, true]].sort());
    // The old single-id address is never guessed at.
    const ambiguous = await call(server, 'GET', `/api/violations/${violationId}`, auth);
    expect(ambiguous.status).toBe(400);
    expect(((await ambiguous.json()) as any).error.message).toMatch(/used by 2 agents.*AGENT_ID/);
    expect((await call(server, 'GET', `/api/violations/${a}/${randomUUID()}`, auth)).status).toBe(404);
  });
});

describe('bad paths and error replies', () => {
  it('answers a malformed %-escape with 400 bad_request, routed or not', async () => {
    server = await startTestServer();
    for (const path of ['/api/violations/%E0%A4%A', '/api/violations/%E0%A4%A/x', '/nowhere/%ZZ']) {
      const r = await server.fetchJson(path);
      expect(r.status).toBe(400);
      expect(r.body.error).toEqual({ code: 'bad_request', message: expect.stringMatching(/malformed %-escape/) });
    }
  });

  it('answers a store busy past its timeout with 503 store_unavailable, Retry-After and a fixed message (no SQLite text)', async () => {
    server = await startTestServer();
    const { hello, e } = await reportOneViolation(server);
    // Another process (here: another connection) holds the write lock.
    const other = new Database(join(server.dataDir, 'consultguard.db'));
    other.exec('BEGIN IMMEDIATE');
    try {
      const res = await call(server, 'POST', `/api/violations/${hello.agentId}/${e.violationId}/ack`, { token: server.apiToken }, { status: 'acknowledged' });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('5');
      const body = (await res.json()) as any;
      expect(Object.keys(body)).toEqual(['error']);
      expect(Object.keys(body.error).sort()).toEqual(['code', 'message']);
      expect(body.error.code).toBe('store_unavailable');
      expect(body.error.message).not.toMatch(/SQLITE|locked|database/i);
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
  }, 20_000);
});

describe('CSV cells', () => {
  // Each value goes through a real export; the spreadsheet must see text, never a formula.
  const cases: Array<[string, string]> = [
    ['=HYPERLINK("http://x","y")', "'=HYPERLINK(\"http://x\",\"y\")"],
    ['+1+cmd', "'+1+cmd"],
    ['-2+3', "'-2+3"],
    ['@SUM(A1)', "'@SUM(A1)"],
    ['\t=1', "'\t=1"],
    ['\r=1', "'\r=1"],
    ['dr;=1+1', 'dr;=1+1'],
  ];

  it.each(cases)('a user name %j is exported as the text %j', async (user, expected) => {
    // Names shown (--show-names): with pseudonyms the cell would never hold the agent's text.
    server = await startTestServer({ showNames: true });
    const c = await connectRaw(server.wsUrl);
    c.send(helloFrame({ enrollSecret: TEST_SECRET }));
    await c.next('welcome');
    c.send(eventFrame(1, [makeEvent({ user })]));
    await c.next('ack');
    c.close();
    const text = await (await call(server, 'GET', '/api/violations.csv', { token: server.apiToken })).text();
    const [header, row] = parseCsv(text);
    const cell = row![header!.indexOf('user')]!;
    expect(cell).toBe(expected);
    // Quoted whenever it holds a separator of any locale (`,` or `;`), a quote or a line break.
    if (/[,;"\r\n]/.test(expected)) expect(text).toContain(`"${expected.replaceAll('"', '""')}"`);
    expect(csvCell(user)).toBe(/[,;"\r\n]/.test(expected) ? `"${expected.replaceAll('"', '""')}"` : expected);
  });
});

/** RFC 4180, enough for the test: quoted fields with "" escapes and line breaks inside. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  const endCell = () => {
    row.push(cell);
    cell = '';
  };
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') endCell();
    else if (ch === '\r' && text[i + 1] === '\n') {
      endCell();
      rows.push(row);
      row = [];
      i++;
    } else cell += ch;
  }
  return rows;
}

describe('store files', () => {
  it.skipIf(process.platform === 'win32')('keeps the data folder 0700 and the database files 0600, tightening looser ones at start', async () => {
    const dataDir = tempDir('cg-modes-');
    // As an older version left them: 0755 folder, 0644 files.
    const first = createStore(dataDir);
    await first.audit.record('test', 'touch'); // makes the -wal and -shm
    await first.close();
    chmodSync(dataDir, 0o755);
    for (const f of ['consultguard.db', 'consultguard.db-wal', 'consultguard.db-shm']) {
      try {
        chmodSync(join(dataDir, f), 0o644);
      } catch {
        // -wal/-shm are removed on a clean close; the server re-creates them below
      }
    }
    server = await startTestServer({ dataDir });
    const c = await connectRaw(server.wsUrl);
    c.send(helloFrame({ enrollSecret: TEST_SECRET }));
    await c.next('welcome');
    c.send(eventFrame(1, [makeEvent()]));
    await c.next('ack');
    c.close();
    const mode = (p: string) => statSync(p).mode & 0o777;
    expect(mode(dataDir)).toBe(0o700);
    for (const f of ['consultguard.db', 'consultguard.db-wal', 'consultguard.db-shm']) expect([f, mode(join(dataDir, f))]).toEqual([f, 0o600]);

    // A fresh folder is made private from the start.
    const fresh = join(tempDir('cg-modes-'), 'nested', 'data');
    mkdirSync(join(fresh, '..'), { recursive: true });
    await createStore(fresh).close();
    expect(mode(fresh)).toBe(0o700);
    expect(mode(join(fresh, 'consultguard.db'))).toBe(0o600);

    // A shared folder such as /tmp (world-writable, sticky) is refused, not made private
    // under everyone's feet. Shown on a folder of the test's own with /tmp's mode.
    const shared = tempDir('cg-shared-');
    chmodSync(shared, 0o1777);
    expect(() => createStore(shared)).toThrow(/shared folder/);
    expect(statSync(shared).mode & 0o7777).toBe(0o1777);
  });
});
