/**
 * `--trust-proxy`: X-Forwarded-For names the client only when the request comes from a
 * configured proxy; from anyone else the header is ignored, so it cannot dodge the login
 * limits or forge the audit log's address. Real server processes on loopback; Linux routes
 * all of 127.0.0.0/8 to lo, so 127.0.0.1 plays the proxy and 127.0.0.2 a client that is not
 * one (as in login-limits.test.ts).
 */
import type { ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { createStore } from '../../server/store/index.js';
import { runCli } from '../support/processes.js';
import { freePort, startServerProcess } from '../support/server-process.js';
import { tempDir } from '../support/server.js';

const PASSWORD = 'a long lead password';
let children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children) c.kill('SIGKILL');
  children = [];
});

async function server(extra: string[]): Promise<{ url: string; data: string }> {
  const data = tempDir();
  const store = createStore(data);
  store.users.add('lead1', 'lead', PASSWORD);
  store.close();
  const port = await freePort();
  children.push(await startServerProcess(port, data, extra));
  return { url: `http://127.0.0.1:${port}`, data };
}

function login(url: string, password: string, from: string, forwardedFor?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ username: 'lead1', password });
    const headers: Record<string, string | number> = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
    if (forwardedFor) headers['x-forwarded-for'] = forwardedFor;
    const req = request(`${url}/api/session`, { method: 'POST', localAddress: from, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The addresses the login limiter recorded failures for, oldest first. */
function failureAddresses(data: string): string[] {
  const db = new Database(join(data, 'consultguard.db'), { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT ip FROM login_failures ORDER BY at').all() as Array<{ ip: string }>).map((r) => r.ip);
  } finally {
    db.close();
  }
}

describe.skipIf(process.platform !== 'linux')('trusted proxies and X-Forwarded-For', () => {
  it('ignores the header without --trust-proxy', async () => {
    const s = await server([]);
    expect(await login(s.url, 'wrong', '127.0.0.1', '203.0.113.9')).toBe(401);
    expect(failureAddresses(s.data)).toEqual(['127.0.0.1']);
  });

  it('believes the header from a configured proxy only; a spoofed one from elsewhere neither hides nor unlocks a client', async () => {
    const s = await server(['--trust-proxy', '127.0.0.1,192.0.2.0/24']);
    // Through the proxy: the rightmost address that is not itself a trusted proxy is the client.
    expect(await login(s.url, 'wrong', '127.0.0.1', '203.0.113.7')).toBe(401);
    expect(await login(s.url, 'wrong', '127.0.0.1', '198.51.100.1, 203.0.113.8, 192.0.2.10')).toBe(401);
    // Not from a proxy: the header is the client's own claim and is ignored.
    expect(await login(s.url, 'wrong', '127.0.0.2', '203.0.113.7')).toBe(401);
    expect(failureAddresses(s.data)).toEqual(['203.0.113.7', '203.0.113.8', '127.0.0.2']);

    // A client guessing from 127.0.0.2 and inventing a new X-Forwarded-For each time is
    // still locked out of the name after 5 failures (it is one address).
    for (let i = 2; i <= 5; i++) expect(await login(s.url, 'wrong', '127.0.0.2', `203.0.113.${100 + i}`)).toBe(401);
    expect(await login(s.url, PASSWORD, '127.0.0.2', '203.0.113.200')).toBe(429);
    // Through the proxy, the limits act per real client: 203.0.113.7 failed once, and the
    // owner signing in from another address behind the proxy is not locked out.
    expect(await login(s.url, PASSWORD, '127.0.0.1', '203.0.113.50')).toBe(200);
  });

  it('refuses a --trust-proxy entry that is not an address or range: exit 2 naming the option', async () => {
    const r = await runCli('server', ['--data', tempDir(), '--port', '0', '--trust-proxy', '10.0.0.5,10.0.0.300']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe('consultguard-server: --trust-proxy (CONSULTGUARD_TRUST_PROXY): expected IP addresses or CIDR ranges, comma-separated (e.g. 10.0.0.5,10.1.0.0/24); "10.0.0.300" is neither');
  });
});
