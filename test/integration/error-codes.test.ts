/**
 * One test per documented error code (README "Error codes" and shared/errors.ts), each
 * triggered for real: the built CLIs as child processes, a real server on a loopback port
 * with a real SQLite file, real WebSocket clients. Every HTTP and wire error is also checked
 * for its shape ({ code, message } only) and for the absence of exception text.
 * A new code is one new line in ROWS; the last test fails until it has one.
 */
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ErrorReply, Health } from '../../shared/api-types.js';
import { AppError } from '../../shared/errors.js';
import { ErrorMessage } from '../../shared/protocol.js';
import { packageRoot } from '../../shared/paths.js';
import { createStore } from '../../server/store/index.js';
import { runCli } from '../support/processes.js';
import { startTestServer, tempDir, TEST_SECRET, type TestServer } from '../support/server.js';
import { connectRaw, eventFrame, helloFrame, makeEvent, type RawClient } from '../support/ws-client.js';

/** What must never reach a client: exception class names, SQLite's own words, stack frames, errno codes. */
const EXCEPTION_TEXT = /SqliteError|SQLITE_|no such table|TypeError|RangeError|ReferenceError|\bat \S+:\d+:\d+|\bE[A-Z]{4,}\b/;
const PASSWORD = 'correct horse battery';

let shared: TestServer;
const extra: TestServer[] = [];
const clients: RawClient[] = [];

beforeAll(async () => {
  const dataDir = tempDir();
  const store = createStore(dataDir);
  store.users.add('it.lead', 'lead', PASSWORD);
  store.users.add('locked.lead', 'lead', PASSWORD);
  store.close();
  shared = await startTestServer({ dataDir, helloTimeoutMs: 300 });
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const s of extra.splice(0)) await s.close();
});
afterAll(async () => shared.close());

// ---- how each kind of error is observed -------------------------------------------------

async function cli(program: 'agent' | 'server', args: string[], stderr: RegExp, exit = 2): Promise<void> {
  const r = await runCli(program, args);
  expect(r.code, r.stderr).toBe(exit);
  expect(r.stderr).toMatch(stderr);
  expect(r.stderr.trim().split('\n'), 'one line, no stack trace').toHaveLength(1);
}

/** The code a library call throws: the CLI prints only the message, so the code is checked here too. */
function thrown(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof AppError) return err.code;
    throw err;
  }
  throw new Error('expected an AppError');
}

type Init = RequestInit & { token?: string | null; schema?: typeof ErrorReply | typeof Health };

/** An HTTP error: its status, its code, the one error shape, and no exception text anywhere in the reply. */
async function http(server: TestServer, path: string, status: number, code: string, init: Init = {}): Promise<Response> {
  const token = init.token === undefined ? server.apiToken : init.token;
  const res = await fetch(`${server.url}${path}`, { ...init, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(init.headers as Record<string, string> | undefined) } });
  const text = await res.text();
  expect(res.status, text).toBe(status);
  const error = (init.schema ?? ErrorReply).parse(JSON.parse(text)).error;
  expect(error?.code).toBe(code);
  expect(error?.message.length).toBeGreaterThan(5);
  // /healthz names each part's last failure by its code (lastError: "SQLITE_ERROR") on purpose; nothing else may.
  expect(text.replace(/"lastError":"[A-Z0-9_]+"/g, '')).not.toMatch(EXCEPTION_TEXT);
  return res;
}

async function client(server: TestServer = shared): Promise<RawClient> {
  const c = await connectRaw(server.wsUrl);
  clients.push(c);
  return c;
}

async function enrolled(server: TestServer = shared): Promise<RawClient> {
  const c = await client(server);
  c.send(helloFrame({ enrollSecret: TEST_SECRET }));
  await c.next('welcome');
  return c;
}

async function wsError(c: RawClient, code: string, close: number): Promise<void> {
  // The wire schema, strict: the error frame carries nothing it does not declare.
  const frame = ErrorMessage.strict().parse(await c.next('error'));
  expect(frame.code).toBe(code);
  expect(frame.message).not.toMatch(EXCEPTION_TEXT);
  expect((await c.closed).code).toBe(close);
}

async function login(server: TestServer, username: string, password: string): Promise<Response> {
  return fetch(`${server.url}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
}

/** A server of its own (options it does not know are dropped by its config schema). */
async function own(opts: Record<string, unknown> = {}): Promise<TestServer> {
  const s = await startTestServer(opts);
  extra.push(s);
  return s;
}

/** A server of its own whose store another process damages (the violations table renamed away). */
async function damagedStore(): Promise<TestServer> {
  const s = await own();
  const other = new Database(join(s.dataDir, 'consultguard.db'));
  other.exec('ALTER TABLE violations RENAME TO violations_moved');
  other.close();
  return s;
}

function file(name: string, text: string): string {
  const path = join(tempDir('cg-err-'), name);
  writeFileSync(path, text);
  return path;
}

const badSnapshot = () => JSON.stringify({ v: 1, platform: 'linux', hostname: 'h', takenAt: '2026-11-23T09:00:00Z', processes: [{ pid: 'x', name: 'zoom' }], connections: [] });

// ---- the table: [code, how it is triggered, the check] -----------------------------------

type Row = [code: string, how: string, run: () => Promise<void>];

const ROWS: Row[] = [
  ['bad_option', 'server --port eighty: exit 2 naming the option', () => cli('server', ['--port', 'eighty'], /--port.*expected a number/)],
  ['bad_config', 'server --config FILE with a bad value: exit 2 naming file, line and key', async () => {
    const cfg = file('server.yaml', 'port: eighty\n');
    await cli('server', ['--config', cfg], /server\.yaml:1: port:/);
  }],
  ['bad_policy', 'server --policies DIR with broken YAML: exit 2 naming the file', async () => {
    const dir = tempDir('cg-err-');
    writeFileSync(join(dir, 'clinic.yaml'), readFileSync(join(packageRoot(), 'policies', 'default.yaml'), 'utf8').replace('approved:\n', 'approved: [\n'));
    await cli('server', ['--policies', dir, '--port', '0', '--data', tempDir()], /clinic\.yaml:\d+: syntax error/);
  }],
  ['policy_not_found', 'server --policies on a missing folder: exit 2', async () => {
    const missing = join(tempDir('cg-err-'), 'policies');
    await cli('server', ['--policies', missing, '--port', '0', '--data', tempDir()], /policies folder .* does not exist/);
    const { loadPolicies } = await import('../../shared/policy-load.js');
    expect(thrown(() => loadPolicies(missing))).toBe('policy_not_found');
    mkdirSync(missing);
    expect(thrown(() => loadPolicies(missing))).toBe('policy_not_found'); // a folder with no policy file
  }],
  ['bad_snapshot', 'agent scan --snapshot with a bad field: exit 2 naming the field', async () => {
    await cli('agent', ['scan', '--snapshot', file('bad.json', badSnapshot())], /bad\.json: processes\[0\]\.pid:/);
    await cli('agent', ['scan', '--snapshot', file('bad.json', '{"v": 1,')], /bad\.json: not valid JSON/);
    const { parseSnapshot } = await import('../../agent/commands/scan.js');
    expect(thrown(() => parseSnapshot(badSnapshot(), 'x'))).toBe('bad_snapshot');
  }],
  ['bad_json', 'a frame that is not JSON: close 4400', async () => {
    const c = await client();
    c.send('{nope');
    await wsError(c, 'bad_json', 4400);
  }],
  ['bad_message', 'a frame of an unknown type: close 4400', async () => {
    const c = await client();
    c.send({ type: 'launch-missiles' });
    await wsError(c, 'bad_message', 4400);
  }],
  ['hello_required', 'events before hello: close 4400', async () => {
    const c = await client();
    c.send(eventFrame(1, [makeEvent()]));
    await wsError(c, 'hello_required', 4400);
  }],
  ['hello_timeout', 'no hello in time: close 4408', async () => wsError(await client(), 'hello_timeout', 4408)],
  ['unauthorized', 'a wrong enrolment secret: close 4401', async () => {
    const c = await client();
    c.send(helloFrame({ enrollSecret: 'not-the-secret-at-all' }));
    await wsError(c, 'unauthorized', 4401);
  }],
  ['unauthorized', 'an /api route without credentials: 401 with WWW-Authenticate', async () => {
    const res = await http(shared, '/api/violations', 401, 'unauthorized', { token: null });
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
  }],
  ['rate_limited', 'more than 50 messages/s from one agent: error, then close 4429', async () => {
    const c = await enrolled();
    // 300 frames at once: far over the sustained 50/s once the burst allowance (200) is spent.
    for (let i = 0; i < 300; i++) c.send({ type: 'status', at: new Date().toISOString(), monitoring: true, policyVersion: null });
    await wsError(c, 'rate_limited', 4429);
  }],
  ['rate_limited', 'a sixth wrong password within 15 minutes: HTTP 429 with Retry-After', async () => {
    for (let i = 0; i < 5; i++) expect((await login(shared, 'locked.lead', 'wrong password!')).status).toBe(401);
    const res = await http(shared, '/api/session', 429, 'rate_limited', { token: null, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'locked.lead', password: PASSWORD }) });
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
  }],
  ['forbidden', 'a lead token on an admin route: 403', async () => void (await http(shared, '/api/audit', 403, 'forbidden'))],
  ['csrf', 'a dashboard change without x-csrf-token: 403', async () => {
    const res = await login(shared, 'it.lead', PASSWORD);
    expect(res.status).toBe(200);
    const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0]!;
    await http(shared, '/api/session', 403, 'csrf', { token: null, method: 'DELETE', headers: { cookie } });
  }],
  ['bad_request', 'a bad query parameter: 400 naming it', async () => {
    const res = await fetch(`${shared.url}/api/violations?since=yesterday`, { headers: { authorization: `Bearer ${shared.apiToken}` } });
    expect(((await res.json()) as ErrorReply).error.message).toMatch(/since/);
    await http(shared, '/api/violations?since=yesterday', 400, 'bad_request');
  }],
  ['not_found', 'an unknown route: 404', async () => void (await http(shared, '/api/no-such-route', 404, 'not_found'))],
  ['internal', 'an /api read on a damaged store: 500, our words only', async () => void (await http(await damagedStore(), '/api/violations', 500, 'internal'))],
  ['internal', 'an events batch on a damaged store: error, close 1011, no ack', async () => {
    const s = await damagedStore();
    const c = await enrolled(s);
    c.send(eventFrame(1, [makeEvent()]));
    await wsError(c, 'internal', 1011);
    expect(c.messages.some((m) => m.type === 'ack')).toBe(false);
  }],
  ['store_unavailable', '/healthz on a damaged store: 503', async () => void (await http(await damagedStore(), '/healthz', 503, 'store_unavailable', { token: null, schema: Health }))],
  ['store_unavailable', 'a server started on a store path it cannot open: exit 1 naming the path', async () => {
    const data = tempDir();
    mkdirSync(join(data, 'consultguard.db')); // a folder where the SQLite file should be
    await cli('server', ['--port', '0', '--data', data, '--enroll-secret', TEST_SECRET], /cannot open the store at .*consultguard\.db/, 1);
  }],
];

/**
 * Codes other branches add in parallel (issue 11's gateway limits): each row joins ROWS as
 * soon as shared/errors.ts declares its code, so the merge needs no edit here; until then
 * the code does not exist and its row is not registered (nothing is skipped).
 */
const WITH_PARALLEL_CODES: Row[] = [
  ['quota_exceeded', 'an agent over its events-per-hour quota: error with retryAfterSec, close 4429, no ack', async () => {
    const c = await enrolled(await own({ quotaEventsPerHour: 5 }));
    c.send(eventFrame(1, Array.from({ length: 5 }, () => makeEvent())));
    await c.next('ack'); // the hour's allowance, used up
    c.send(eventFrame(2, Array.from({ length: 3 }, () => makeEvent())));
    await wsError(c, 'quota_exceeded', 4429);
    expect(c.messages.find((m) => m.type === 'error').retryAfterSec).toBeGreaterThan(0);
    expect(c.messages.filter((m) => m.type === 'ack')).toHaveLength(1);
  }],
  ['enrolment_limit', 'one enrolment more than --enroll-limit allows: close 4401', async () => {
    const s = await own({ enrollLimit: 1 });
    await enrolled(s);
    const c = await client(s);
    c.send(helloFrame({ enrollSecret: TEST_SECRET }));
    await wsError(c, 'enrolment_limit', 4401);
  }],
];

/**
 * Declared in shared/errors.ts but produced nowhere (issue 17: use them or remove them).
 * Checked below: once code produces one, it must get a row above instead.
 */
const DECLARED_UNUSED = ['frame_too_large', 'disk_full'];

const DECLARED = ((): string[] => {
  const source = readFileSync(join(packageRoot(), 'shared', 'errors.ts'), 'utf8');
  const union = /export type ErrorCode\s*=([^;]*);/.exec(source)?.[1] ?? '';
  return [...union.matchAll(/'([a-z0-9_]+)'/g)].map((m) => m[1]!);
})();
ROWS.push(...WITH_PARALLEL_CODES.filter((r) => DECLARED.includes(r[0])));

describe('error codes', () => {
  it.each(ROWS)('%s: %s', async (_code, _how, run) => run());

  it('has a row for every code in shared/errors.ts and in the README table', () => {
    const root = packageRoot();
    const declared = DECLARED;
    expect(declared.length).toBeGreaterThan(10);
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const table = /## Error codes\n([\s\S]*?)\n## /.exec(readme)?.[1] ?? '';
    const documented = table.split('\n').filter((l) => l.startsWith('| `')).flatMap((l) => [...l.split('|')[1]!.matchAll(/`([a-z0-9_]+)`/g)].map((m) => m[1]!));
    expect(documented.length).toBeGreaterThan(10);

    const covered = new Set(ROWS.map((r) => r[0]));
    const unused = new Set(DECLARED_UNUSED.filter((c) => declared.includes(c)));
    expect([...new Set([...declared, ...documented])].filter((c) => !covered.has(c) && !unused.has(c)).sort(), 'codes without a row').toEqual([]);
    expect(documented.filter((c) => unused.has(c)), 'a documented code must be produced and tested').toEqual([]);
    expect(ROWS.map((r) => r[0]).filter((c) => !declared.includes(c)), 'rows for codes shared/errors.ts does not declare').toEqual([]);
  });

  it('produces none of the declared-but-unused codes anywhere in the code', () => {
    const root = packageRoot();
    const grep = (dir: string): string[] => {
      return readdirSync(dir).flatMap((f) => {
        const p = join(dir, f);
        if (statSync(p).isDirectory()) return grep(p);
        return p.endsWith('.ts') && !p.endsWith(join('shared', 'errors.ts')) ? [p] : [];
      });
    };
    const files = ['agent', 'server', 'shared'].flatMap((d) => grep(join(root, d)));
    for (const code of DECLARED_UNUSED) expect(files.filter((f) => readFileSync(f, 'utf8').includes(`'${code}'`)), code).toEqual([]);
  });
});
