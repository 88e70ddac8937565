/**
 * Login abuse (issue 11): a storm of anonymous logins must not stall agents, the password
 * checks are capped and queued (bounded), limits apply per client address as well as per
 * name, and strangers guessing a name never lock its owner out. Real server on loopback;
 * the different client addresses are real: Linux routes all of 127.0.0.0/8 to lo, so a
 * request can be sent from 127.0.0.2 and the server sees that address. (macOS only has
 * 127.0.0.1 configured by default and Windows answers on all of 127/8 too; these tests run
 * on the Linux CI.) Scrypt is real (N=2^15), so these tests take a few seconds.
 */
import { execFileSync } from 'node:child_process';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { packageRoot } from '../../shared/paths.js';
import { createStore } from '../../server/store/index.js';
import { startTestServer, tempDir, TEST_SECRET, type TestServer } from '../support/server.js';
import { connectRaw, eventFrame, helloFrame, makeEvent } from '../support/ws-client.js';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const PASSWORD = 'a long lead password';

/** A login POST sent from a chosen loopback address. */
export function loginFrom(s: TestServer, username: string, password: string, localAddress = '127.0.0.1'): Promise<{ status: number; body: any; retryAfter: string | null; cookie: string }> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ username, password });
    const req = request(`${s.url}/api/session`, { method: 'POST', localAddress, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({
        status: res.statusCode ?? 0, body: text ? JSON.parse(text) : null,
        retryAfter: (res.headers['retry-after'] as string | undefined) ?? null,
        cookie: (res.headers['set-cookie']?.[0] ?? '').split(';')[0]!,
      }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function metric(s: TestServer, name: string): Promise<number> {
  const text = await (await fetch(`${s.url}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  if (!m) throw new Error(`no metric ${name}`);
  return Number(m[1]);
}

async function serverWithUser(): Promise<TestServer> {
  const dataDir = tempDir('cg-login-');
  const store = createStore(dataDir);
  await store.users.add('lead1', 'lead', PASSWORD);
  await store.close();
  // Ack round trips as fast as they come: the gateway's per-agent rate limit is not under test.
  return startTestServer({ dataDir, rate: { perSecond: 100_000, burst: 100_000 } });
}

describe('login storm', () => {
  it('keeps answering agent acks while 12 anonymous logins with made-up names are checked, at most 2 at a time', async () => {
    server = await serverWithUser();
    const agent = await connectRaw(server.wsUrl);
    agent.send(helloFrame({ enrollSecret: TEST_SECRET }));
    await agent.next('welcome');
    let batch = 0;
    const roundTrip = async () => {
      batch += 1;
      agent.send(eventFrame(batch, [makeEvent()]));
      await agent.next('ack');
    };
    await roundTrip();

    let stormOver = false;
    const storm = Promise.all(Array.from({ length: 12 }, (_, i) => loginFrom(server!, `made-up-${i}`, 'guess'))).finally(() => (stormOver = true));
    // The agent streams while the logins are checked: with scryptSync on the event loop
    // each login held every socket for one hash, so only about one ack got through per
    // login; off the loop, acks keep flowing.
    let during = 0;
    while (!stormOver) {
      await roundTrip();
      if (!stormOver) during++;
    }
    const answers = await storm;
    expect(answers.every((a) => a.status === 401 || (a.status === 429 && a.retryAfter !== null))).toBe(true);
    expect(during).toBeGreaterThan(4 * answers.length);
    // The cap held (and was reached: the storm wanted 12).
    expect(await metric(server, 'consultguard_login_hashes_active_max')).toBe(2);
    expect(await metric(server, 'consultguard_login_hashes_active')).toBe(0);
    agent.close();
  }, 30_000);

  it('refuses logins beyond the bounded queue with 429 and Retry-After, and counts them', async () => {
    server = await serverWithUser();
    // 40 at once from 20 addresses (2 each: no per-address limit is reached): 2 run, 8 wait, the rest are refused.
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => loginFrom(server!, `nobody-${i}`, 'guess', `127.0.0.${10 + (i % 20)}`)));
    const busy = answers.filter((a) => a.status === 429);
    expect(busy.length).toBeGreaterThan(0);
    for (const b of busy) {
      expect(b.retryAfter).toBe('1');
      expect(b.body.error).toEqual({ code: 'rate_limited', message: expect.stringMatching(/busy/) });
    }
    expect(answers.filter((a) => a.status === 401).length + busy.length).toBe(40);
    expect(await metric(server, 'consultguard_login_hashes_refused')).toBe(busy.length);
  }, 30_000);
});

describe('lock-out per address and user', () => {
  it('locks out the address that guessed, never the owner at another address', async () => {
    server = await serverWithUser();
    for (let i = 0; i < 5; i++) expect((await loginFrom(server, 'lead1', `guess-${i}`, '127.0.0.2')).status).toBe(401);
    const stranger = await loginFrom(server, 'lead1', PASSWORD, '127.0.0.2');
    expect(stranger.status).toBe(429);
    expect(Number(stranger.retryAfter)).toBeGreaterThan(60);
    expect(stranger.body.error.message).toMatch(/from this address/);
    // The owner, elsewhere: still signs in.
    const owner = await loginFrom(server, 'lead1', PASSWORD, '127.0.0.1');
    expect(owner.status).toBe(200);
  }, 30_000);

  it('stops an address that sweeps made-up names, whatever name it tries next', async () => {
    server = await serverWithUser();
    for (let i = 0; i < 20; i++) expect((await loginFrom(server, `sweep-${i}`, 'guess', '127.0.0.3')).status).toBe(401);
    const next = await loginFrom(server, 'lead1', PASSWORD, '127.0.0.3');
    expect(next.status).toBe(429);
    expect(next.body.error.message).toMatch(/from this address/);
    expect((await loginFrom(server, 'lead1', PASSWORD, '127.0.0.1')).status).toBe(200);
    const audit = (await server.fetchJson('/api/audit?limit=100', await adminToken(server))).body.items as Array<{ actor: string; action: string; detail: { ip?: string } }>;
    expect(audit.filter((a) => a.action === 'login-failed' && a.detail.ip === '127.0.0.3')).toHaveLength(20);
    expect(audit.some((a) => a.action === 'login-address-limited' && a.detail.ip === '127.0.0.3')).toBe(true);
  }, 60_000);

  it('bounds guesses at one name from many addresses, except from an address its owner used before', async () => {
    // The name-wide limit is 100; here a store with a limit of 3 shows the rule quickly.
    const { createUserStore, LOCKOUT } = await import('../../server/store/users.js');
    const { openDb } = await import('../../server/store/db.js');
    const db = openDb(join(tempDir('cg-users-'), 'u.db'));
    const users = createUserStore(db, Date.now, { limits: { ...LOCKOUT, perUser: 3 } });
    users.add('lead1', 'lead', PASSWORD);
    expect((await users.login('lead1', PASSWORD, '10.0.0.1')).ok).toBe(true);
    for (let i = 0; i < 3; i++) expect(await users.login('lead1', 'guess', `10.9.0.${i}`)).toMatchObject({ ok: false, reason: 'wrong' });
    expect(await users.login('lead1', PASSWORD, '10.9.9.9')).toMatchObject({ ok: false, reason: 'user-limited' });
    expect((await users.login('lead1', PASSWORD, '10.0.0.1')).ok).toBe(true);
    db.close();
  }, 30_000);
});

async function adminToken(s: TestServer): Promise<string> {
  const store = createStore(s.dataDir);
  try {
    return (await store.apiTokens.create('admin', 'test-admin')).token;
  } finally {
    await store.close();
  }
}

describe('no password hashing at import', () => {
  it('loads the user store without running scrypt (the dummy hash is made on first need)', () => {
    // In a fresh process: count scrypt calls made while the module loads.
    const script = `
      import crypto from 'node:crypto';
      import { syncBuiltinESMExports } from 'node:module';
      let calls = 0;
      const sync = crypto.scryptSync, async = crypto.scrypt;
      crypto.scryptSync = (...a) => { calls++; return sync(...a); };
      crypto.scrypt = (...a) => { calls++; return async(...a); };
      syncBuiltinESMExports();
      await import(${JSON.stringify(join(packageRoot(), 'build', 'server', 'store', 'users.js'))});
      await import(${JSON.stringify(join(packageRoot(), 'build', 'server', 'store', 'index.js'))});
      process.stdout.write(String(calls));
    `;
    expect(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })).toBe('0');
  });
});
