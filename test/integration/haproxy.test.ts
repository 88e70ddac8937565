/**
 * The documented load-balancer layout, run for real: Debian's haproxy with the shipped
 * installers/haproxy/consultguard.cfg (TLS terminated there) in front of real server
 * processes on loopback.
 *
 * Two instances may not share one SQLite file, so what needs one store (agents, the live
 * feed, logins) runs through HAProxy to one instance (both server lines of the file point
 * at it), and the failover of HAProxy between two instances is shown on /healthz with two
 * instances on stores of their own. Agents moving between two live instances on one store
 * wait for the PostgreSQL engine.
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createStore } from '../../server/store/index.js';
import { agentConfigFile } from '../support/agent.js';
import { hasHaproxy, httpsRequest, httpsStream, NO_HAPROXY, startHaproxy, type Haproxy } from '../support/haproxy.js';
import { killAll, startAgentProcess, startFakeApp } from '../support/processes.js';
import { freePort, startServerProcess } from '../support/server-process.js';
import { tempDir, TEST_SECRET } from '../support/server.js';

if (!hasHaproxy) console.warn(NO_HAPROXY);

const WAIT = { timeout: 25_000, interval: 200 };
const PASSWORD = 'a long lead password';

let children: ChildProcess[] = [];
let proxies: Haproxy[] = [];
afterEach(async () => {
  await killAll();
  for (const p of proxies) await p.stop();
  proxies = [];
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  children = [];
});

/** A server process on a free port with an API token and a dashboard user in its store. */
async function instance(extra: string[] = []): Promise<{ child: ChildProcess; address: string; data: string; token: string }> {
  const data = tempDir();
  const store = createStore(data);
  const { token } = store.apiTokens.create('lead', 'test');
  store.users.add('lead1', 'lead', PASSWORD);
  store.close();
  const port = await freePort();
  const child = await startServerProcess(port, data, extra);
  children.push(child);
  return { child, address: `127.0.0.1:${port}`, data, token };
}

describe.skipIf(!hasHaproxy || process.platform !== 'linux')('behind HAProxy (installers/haproxy/consultguard.cfg)', () => {
  it('passes the agent WebSocket, the live feed (SSE), /healthz and the real client address through to the instance', async () => {
    // HAProxy connects to the instance from 127.0.0.1: that is the proxy to trust.
    const s = await instance(['--trust-proxy', '127.0.0.1']);
    const work = tempDir();
    const h = await startHaproxy(work, [s.address, s.address]);
    proxies.push(h);
    const auth = { authorization: `Bearer ${s.token}` };

    const health = await httpsRequest(h, '/healthz');
    expect(health.status).toBe(200);
    expect(JSON.parse(health.text).ok).toBe(true);

    const feed = await httpsStream(h, '/api/violations/stream', auth);
    expect(feed.status).toBe(200);
    expect(feed.contentType).toMatch(/text\/event-stream/);

    // A real agent, over wss:// to HAProxy, trusting its certificate.
    const config = agentConfigFile(work, {
      serverUrl: h.url, caFile: h.caFile, enrollSecret: TEST_SECRET, stateDir: join(work, 'state'), nudgeDir: join(work, 'nudge'), reconnect: { minMs: 100, maxMs: 500 },
    });
    const agent = startAgentProcess(['run', '--config', config]);
    await vi.waitFor(async () => {
      const r = await httpsRequest(h, '/api/agents', { headers: auth });
      expect(JSON.parse(r.text).items[0]?.online).toBe(true);
    }, WAIT);
    const zoom = startFakeApp(join(work, 'opt', 'zoom', 'zoom'));
    // The violation reaches the dashboard's live feed through HAProxy.
    await vi.waitFor(() => {
      expect(feed.text()).toContain('event: violation');
      expect(feed.text()).toContain('"app":"zoom"');
    }, WAIT);
    zoom.kill('SIGKILL');
    feed.close();

    // A login through HAProxy from 127.0.0.3 with a forged X-Forwarded-For: the limiter
    // records 127.0.0.3 (what HAProxy saw), not the forgery, and not HAProxy's own address.
    const login = await httpsRequest(h, '/api/session', {
      method: 'POST', body: JSON.stringify({ username: 'lead1', password: 'wrong' }), headers: { 'x-forwarded-for': '203.0.113.66' }, localAddress: '127.0.0.3',
    });
    expect(login.status).toBe(401);
    const db = new Database(join(s.data, 'consultguard.db'), { readonly: true, fileMustExist: true });
    try {
      expect((db.prepare('SELECT ip FROM login_failures').all() as Array<{ ip: string }>).map((r) => r.ip)).toEqual(['127.0.0.3']);
    } finally {
      db.close();
    }
    await agent.stop();
  }, 60_000);

  it('keeps /healthz answering when one of two instances is killed, and takes it out of service', async () => {
    const [a, b] = [await instance(), await instance()];
    const h = await startHaproxy(tempDir(), [a.address, b.address]);
    proxies.push(h);
    await vi.waitFor(async () => {
      const servers = await h.servers();
      expect(servers.get('s1')?.status).toBe('UP');
      expect(servers.get('s2')?.status).toBe('UP');
    }, WAIT);
    for (let i = 0; i < 6; i++) expect((await httpsRequest(h, '/healthz')).status).toBe(200);
    const before = await h.servers();
    // Both took requests (leastconn over short requests spreads them).
    expect(before.get('s1')!.total).toBeGreaterThan(0);
    expect(before.get('s2')!.total).toBeGreaterThan(0);

    a.child.kill('SIGKILL');
    await new Promise((r) => a.child.once('exit', r));
    // Right after the kill, before any health check noticed: a request that lands on the
    // dead instance is refused there and redispatched to the live one.
    for (let i = 0; i < 10; i++) expect((await httpsRequest(h, '/healthz')).status).toBe(200);
    await vi.waitFor(async () => expect((await h.servers()).get('s1')?.status).toBe('DOWN'), WAIT);
    const down = await h.servers();
    for (let i = 0; i < 5; i++) expect((await httpsRequest(h, '/healthz')).status).toBe(200);
    const after = await h.servers();
    expect(after.get('s2')!.total - down.get('s2')!.total).toBeGreaterThanOrEqual(5);
    expect(after.get('s1')!.total).toBe(down.get('s1')!.total);
  }, 60_000);
});
