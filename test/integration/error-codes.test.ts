/**
 * One test per documented error code (shared/errors.ts, docs/errors.md, README "Error codes"), each
 * triggered for real: the built CLIs as child processes, a real server on a loopback port
 * with a real SQLite file, real WebSocket clients. Every HTTP and wire error is also checked
 * for its shape ({ code, message } only) and for the absence of exception text.
 * A new code is one new line in ROWS and a line in docs/errors.md and the README table;
 * the coverage test fails until it has all three.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, statSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ErrorReply, Health } from '../../shared/api-types.js';
import { AppError } from '../../shared/errors.js';
import { ErrorMessage } from '../../shared/protocol.js';
import { packageRoot } from '../../shared/paths.js';
import { createStore } from '../../server/store/index.js';
import { createOutbox } from '../../agent/outbox.js';
import { createAgentState } from '../../agent/state.js';
import { deliverNudge, type DeliverOptions } from '../../agent/nudge/ipc-client.js';
import { encodeFrame, frameReader, newNonce } from '../../agent/nudge/ipc-protocol.js';
import { startHelperServer, type HelperServer } from '../../agent/nudge/ipc-server.js';
import { prepareUserDir, readKey } from '../../agent/nudge/rendezvous.js';
import type { Event } from '../../shared/protocol.js';
import { silentLogger } from '../../shared/log.js';
import { runCli } from '../support/processes.js';
import { freePort, oidcOptions, signInWithFetch, startOidcProvider } from '../support/oidc-provider.js';
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
  await store.users.add('it.lead', 'lead', PASSWORD);
  await store.users.add('locked.lead', 'lead', PASSWORD);
  await store.close();
  shared = await startTestServer({ dataDir, helloTimeoutMs: 300 });
});
const sockets: Array<Server | HelperServer> = [];
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const s of extra.splice(0)) await s.close();
  for (const s of sockets.splice(0)) await ('address' in s ? new Promise((r) => s.close(r)) : s.close());
  for (const f of cleanups.splice(0).reverse()) await f();
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

/** A single sign-on error: a page (the browser is mid-sign-in) naming the code, our words only. */
async function ssoPage(server: TestServer, path: string, status: number, code: string): Promise<void> {
  const res = await fetch(`${server.url}${path}`, { redirect: 'manual' });
  const text = await res.text();
  expect(res.status, text).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^text\/html/);
  expect(text).toContain(`<code>${code}</code>`);
  expect(text).not.toMatch(EXCEPTION_TEXT);
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

/** The code an async library call rejects with, and its message. */
async function rejected(p: Promise<unknown>): Promise<AppError> {
  const err = await p.then(() => new Error('expected an AppError'), (e: unknown) => e);
  if (err instanceof AppError) return err;
  throw err;
}

// ---- the nudge IPC: a real helper server or a hand-made listener on a real Unix socket ----

const uid = process.getuid?.() ?? 0;
const gid = process.getgid?.() ?? 0;
const isRoot = uid === 0;
const nudgeRequest = () => ({
  type: 'nudge' as const, id: randomUUID(), title: 'Please use Healthdirect Video Call', message: 'Zoom is not approved here.',
  approved: { name: 'Healthdirect Video Call', url: 'https://vcc.healthdirect.org.au/' }, timeoutSec: 30,
});

/** The agent side of one nudge to this user, through the real client. */
function nudge(root: string, opts: Partial<DeliverOptions> = {}): Promise<AppError> {
  return rejected(deliverNudge({ root, user: 'me', request: nudgeRequest(), onOutcome: () => undefined, resolveUser: async () => ({ uid, gid }), waitForHelperMs: 300, handshakeMs: 1000, ...opts }));
}

/** A user's nudge folder with its key, prepared as the agent does. */
function nudgeDir() {
  const root = join(tempDir('cg-err-'), 'nudge');
  return { root, paths: prepareUserDir(root, { uid, gid }, isRoot) };
}

async function listen(path: string, onConnection: (s: import('node:net').Socket) => void): Promise<void> {
  const server = createServer((s) => {
    s.on('error', () => undefined);
    onConnection(s);
  });
  sockets.push(server);
  await new Promise<void>((r) => server.listen(path, r));
}

/** What the helper answers a client that connects and then does `act` (frames as received). */
function toHelper(path: string, act: (send: (f: object) => void) => void): Promise<Array<{ type: string; code?: string; message?: string }>> {
  return new Promise((resolve) => {
    const got: Array<{ type: string; code?: string; message?: string }> = [];
    const s = createConnection(path);
    s.on('data', frameReader((f) => {
      got.push(f as { type: string });
      if ((f as { type: string }).type === 'challenge') act((out) => s.write(encodeFrame(out)));
    }, () => undefined));
    s.on('error', () => undefined);
    s.on('close', () => resolve(got));
  });
}

/**
 * A server whose data folder is a 2 MiB tmpfs (room for the schema, no more), filled up once the server runs: the next
 * write is SQLite's own SQLITE_FULL from the kernel's ENOSPC. Mounting needs root.
 */
async function fullDiskServer(): Promise<TestServer> {
  const mnt = tempDir('cg-full-');
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m,mode=0700', 'tmpfs', mnt]);
  cleanups.push(() => {
    execFileSync('umount', ['-l', mnt]);
    rmdirSync(mnt);
  });
  const s = await startTestServer({ dataDir: mnt, keepData: true });
  cleanups.push(() => s.close()); // runs before the unmount (cleanups run in reverse)
  const fd = openSync(join(mnt, 'filler'), 'w');
  const chunk = Buffer.alloc(4096, 0x2e);
  try {
    for (let i = 0; i < 512; i++) writeSync(fd, chunk); // 2 MiB at most: bounded
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
  return s;
}

function file(name: string, text: string): string {
  const path = join(tempDir('cg-err-'), name);
  writeFileSync(path, text);
  return path;
}

const badSnapshot = () => JSON.stringify({ v: 1, platform: 'linux', hostname: 'h', takenAt: '2026-11-23T09:00:00Z', processes: [{ pid: 'x', name: 'zoom' }], connections: [] });

// ---- the table: [code, how it is triggered, the check] -----------------------------------

/** `unavailable`: why this machine cannot trigger it (the row is then skipped, saying so; CI=true fails on skips). */
type Row = [code: string, how: string, run: () => Promise<void>, unavailable?: string];

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
  ['sso_failed', 'a single sign-on callback without the state cookie this browser was given: 400 page', async () => {
    const s = await own({ oidcIssuer: 'http://127.0.0.1:9', oidcClientId: 'cg', oidcRedirectUrl: 'http://127.0.0.1:8470/auth/oidc/callback', oidcAdminGroup: ['cg-admins'] });
    await ssoPage(s, '/auth/oidc/callback?code=stolen-code&state=guessed', 400, 'sso_failed');
  }],
  ['sso_refused', 'signed in at a real provider, but in no mapped group: 403 page', async () => {
    const port = await freePort();
    const provider = await startOidcProvider({ redirectUris: [`http://127.0.0.1:${port}/auth/oidc/callback`], accounts: { 'sub-x': { groups: ['staff'] } } });
    cleanups.push(() => provider.close());
    const s = await own({ port, ...oidcOptions(provider, port) });
    const r = await signInWithFetch(s.url, 'sub-x');
    expect(r.status).toBe(403);
    expect(r.text).toContain('<code>sso_refused</code>');
    expect(r.text).not.toMatch(EXCEPTION_TEXT);
  }],
  ['sso_unavailable', 'single sign-on with a provider that does not answer: 502 page at the login start', async () => {
    const s = await own({ oidcIssuer: `http://127.0.0.1:${await freePort()}`, oidcClientId: 'cg', oidcRedirectUrl: 'http://127.0.0.1:8470/auth/oidc/callback', oidcLeadGroup: ['cg-leads'] });
    await ssoPage(s, '/auth/oidc/login', 502, 'sso_unavailable');
  }],
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
  ['disk_full', 'the server\'s disk fills up (a 2 MiB tmpfs under --data): 503 with Retry-After, our words only', async () => {
    const s = await fullDiskServer();
    // Every /api read is audited, so each one writes; the WAL grows until a write needs a
    // page the disk no longer has. Bounded: 40 reads of ~8 KiB audit rows each.
    const pad = 'x'.repeat(8000);
    for (let i = 0; i < 40; i++) {
      const res = await fetch(`${s.url}/api/trends?pad=${pad}${i}`, { headers: { authorization: `Bearer ${s.apiToken}` } });
      await res.text();
      if (res.status !== 200) break;
    }
    const res = await http(s, `/api/trends?pad=${pad}`, 503, 'disk_full');
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
  }, isRoot ? undefined : 'needs root to mount a tmpfs under --data'],
  ['disk_full', 'the agent outbox on a full disk (the kernel\'s ENOSPC from /dev/full): thrown with the folder named', async () => {
    const dir = join(tempDir('cg-err-'), 'outbox');
    mkdirSync(dir);
    const outbox = createOutbox({ dir, maxEvents: 1000, maxBytes: 1 << 20 });
    symlinkSync('/dev/full', join(dir, 'seg-0000000000000001.log')); // the first segment the append opens
    try {
      expect(thrown(() => outbox.append([makeEvent() as Event]))).toBe('disk_full');
    } finally {
      outbox.close();
    }
  }, existsSync('/dev/full') ? undefined : 'needs /dev/full (Linux) for the kernel\'s ENOSPC'],
  ['bad_state', 'agent run with identity.json and its backup both unusable: exit 1 naming the file, no new id', async () => {
    const state = tempDir('cg-err-');
    writeFileSync(join(state, 'identity.json'), 'garbage');
    writeFileSync(join(state, 'identity.json.bak'), '');
    const r = await runCli('agent', ['run', '--server', shared.wsUrl, '--enroll-secret', TEST_SECRET, '--state', state], { CONSULTGUARD_NUDGE_DIR: join(state, 'nudge') });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(`${join(state, 'identity.json')} is unusable (it is not valid JSON)`);
    expect(r.stderr).toContain('will not make up a new agent id');
    expect(r.stderr.trim().split('\n'), 'one line, no stack trace').toHaveLength(1);
    expect(readFileSync(join(state, 'identity.json'), 'utf8')).toBe('garbage');
    expect(thrown(() => createAgentState(state))).toBe('bad_state');
  }],
  ['no_helper', 'a nudge for a user whose helper is not listening: the agent gives up naming the helper command', async () => {
    const err = await nudge(join(tempDir('cg-err-'), 'nudge'));
    expect(err.code).toBe('no_helper');
    expect(err.message).toContain('consultguard-agent nudge-helper');
  }],
  ['untrusted_helper', 'a listener on the user\'s socket that cannot prove it holds the key: the nudge is not sent', async () => {
    const { root, paths } = nudgeDir();
    const received: string[] = [];
    await listen(paths.socketFile, (s) => {
      s.write(encodeFrame({ type: 'challenge', v: 1, nonce: newNonce() }));
      s.on('data', frameReader((f) => {
        received.push((f as { type: string }).type);
        s.write(encodeFrame({ type: 'welcome', proof: randomBytes(32).toString('hex') }));
      }, () => undefined));
    });
    const err = await nudge(root);
    expect(err.code).toBe('untrusted_helper');
    expect(received).toEqual(['hello']);
  }],
  ['helper_refused', 'a helper holding another key (replaced since it read it): the agent reports the refusal', async () => {
    const { root, paths } = nudgeDir();
    sockets.push(await startHelperServer({ path: paths.socketFile, readKey: () => randomBytes(32), log: silentLogger(), show: async () => undefined }));
    const err = await nudge(root);
    expect(err.code).toBe('helper_refused');
    expect(err.message).toContain('unauthorized');
  }],
  ['unknown_user', 'a nudge for a process owner with no local account', async () => {
    expect((await nudge(join(tempDir('cg-err-'), 'nudge'), { user: 'ghost', resolveUser: async () => null })).code).toBe('unknown_user');
  }],
  ['timeout', 'agent side: a listener that accepts and never completes the hello', async () => {
    const { root, paths } = nudgeDir();
    await listen(paths.socketFile, () => undefined);
    const err = await nudge(root, { handshakeMs: 300 });
    expect(err.code).toBe('timeout');
    expect(err.message).toContain('did not complete the hello within 300 ms');
  }],
  ['timeout', 'helper side: a client that connects and sends no hello gets an IPC error frame', async () => {
    const { paths } = nudgeDir();
    sockets.push(await startHelperServer({ path: paths.socketFile, readKey: () => readKey(paths.keyFile, uid), log: silentLogger(), helloTimeoutMs: 300, show: async () => undefined }));
    const got = await toHelper(paths.socketFile, () => undefined);
    expect(got.map((f) => f.type)).toEqual(['challenge', 'error']);
    expect(got[1]).toMatchObject({ code: 'timeout' });
    expect(got[1]?.message).not.toMatch(EXCEPTION_TEXT);
  }],
];

/**
 * Codes removed under issue 17 (declared, never produced): they must not come back
 * unannounced. A code that is produced gets a row in ROWS and a line in the docs instead.
 */
const REMOVED = ['frame_too_large'];

const DECLARED = ((): string[] => {
  // Comments out first: one in the union holds a ';' (which once hid the nudge codes from this list).
  const source = readFileSync(join(packageRoot(), 'shared', 'errors.ts'), 'utf8').replace(/\/\/.*$/gm, '');
  const union = /export type ErrorCode\s*=([^;]*);/.exec(source)?.[1] ?? '';
  return [...union.matchAll(/'([a-z0-9_]+)'/g)].map((m) => m[1]!);
})();

describe('error codes', () => {
  for (const [code, how, run, unavailable] of ROWS) it.skipIf(unavailable !== undefined)(`${code}: ${how}${unavailable ? ` (skipped: ${unavailable})` : ''}`, run);

  /** The codes in the first column of every table in a Markdown text (rows like "(no code)" are not codes). */
  const tableCodes = (text: string): string[] =>
    text.split('\n').filter((l) => l.startsWith('| `')).flatMap((l) => [...l.split('|')[1]!.matchAll(/`([a-z0-9_]+)`/g)].map((m) => m[1]!));
  const sorted = (codes: Iterable<string>) => [...new Set(codes)].sort();

  it('has a row for every code in shared/errors.ts, and docs/errors.md and the README table list exactly those codes', () => {
    const root = packageRoot();
    expect(DECLARED.length).toBeGreaterThan(20);
    // docs/errors.md is the full documented list: every declared code, nothing else.
    const docs = tableCodes(readFileSync(join(root, 'docs', 'errors.md'), 'utf8'));
    expect(sorted(docs), 'docs/errors.md lists exactly the codes of shared/errors.ts').toEqual(sorted(DECLARED));
    // The README's short table agrees with it (every code, in fewer words) and links it.
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const section = /## Error codes\n([\s\S]*?)\n## /.exec(readme)?.[1] ?? '';
    expect(section).toContain('](docs/errors.md)');
    expect(sorted(tableCodes(section)), 'the README table lists exactly the codes of shared/errors.ts').toEqual(sorted(DECLARED));

    const covered = new Set(ROWS.map((r) => r[0]));
    expect(DECLARED.filter((c) => !covered.has(c)).sort(), 'codes without a row').toEqual([]);
    expect(ROWS.map((r) => r[0]).filter((c) => !DECLARED.includes(c)), 'rows for codes shared/errors.ts does not declare').toEqual([]);
  });

  it('neither declares nor produces a removed code anywhere in the code', () => {
    expect(DECLARED.filter((c) => REMOVED.includes(c))).toEqual([]);
    const root = packageRoot();
    const grep = (dir: string): string[] => {
      return readdirSync(dir).flatMap((f) => {
        const p = join(dir, f);
        if (statSync(p).isDirectory()) return grep(p);
        return p.endsWith('.ts') && !p.endsWith(join('shared', 'errors.ts')) ? [p] : [];
      });
    };
    const files = ['agent', 'server', 'shared'].flatMap((d) => grep(join(root, d)));
    for (const code of REMOVED) expect(files.filter((f) => readFileSync(f, 'utf8').includes(`'${code}'`)), code).toEqual([]);
  });
});
