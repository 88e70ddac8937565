/**
 * Agents with several servers (`--server URL1,URL2`, CONTRACTS section 1), against real
 * servers on loopback: a dead first URL, the connected server killed with SIGKILL mid-stream,
 * a server that refuses, a bad URL in the list.
 *
 * With SQLite, two servers on two files are two clusters: an agent's token is known only to
 * the one that enrolled it. So "the other instance" here is the same store served by a new
 * process on another port once the first is dead (what a second instance on one PostgreSQL
 * gives without the restart). Two instances running at once on one store wait for the
 * PostgreSQL engine.
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocketServer } from 'ws';
import { agentConfigFile, storedEvents } from '../support/agent.js';
import { killAll, runCli, startAgentProcess } from '../support/processes.js';
import { freePort, startServerProcess } from '../support/server-process.js';
import { startTestServer, tempDir, TEST_SECRET, type TestServer } from '../support/server.js';
import { simAgent as sim, streamEvents, type SimAgent } from '../support/sim-agent.js';

const WAIT = { timeout: 20_000, interval: 100 };
const BACKOFF = { minMs: 100, maxMs: 400 };
const simAgent = (urls: string[], token: string | null = null, agentId?: string) => sim(urls.join(','), { token, agentId, backoff: BACKOFF });

const ws = (port: number) => `ws://127.0.0.1:${port}`;

let children: ChildProcess[] = [];
let servers: TestServer[] = [];
let agents: SimAgent[] = [];
let others: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const a of agents) await a.transport.stop(50);
  agents = [];
  await killAll();
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  children = [];
  for (const s of servers) await s.close();
  servers = [];
  for (const close of others) await close();
  others = [];
});

/** A server on loopback that answers every hello with `unauthorized` and a 4401 close; counts connections. */
async function refusingServer(): Promise<{ port: number; connections: () => number }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  let n = 0;
  wss.on('connection', (socket) => {
    n++;
    socket.on('error', () => undefined);
    socket.once('message', () => {
      socket.send(JSON.stringify({ type: 'error', code: 'unauthorized', message: 'refused by the test' }));
      socket.close(4401, 'unauthorized');
    });
  });
  others.push(() => new Promise<void>((r) => wss.close(() => r())));
  return { port: (wss.address() as { port: number }).port, connections: () => n };
}

describe('agent failover', () => {
  it('skips a dead first URL and uses the second; `status` names the server in use and the list', async () => {
    const s = await startTestServer();
    servers.push(s);
    const dead = await freePort();
    const work = tempDir();
    const state = join(work, 'state');
    const config = agentConfigFile(work, { enrollSecret: TEST_SECRET, stateDir: state, nudgeDir: join(work, 'nudge'), reconnect: { minMs: 100, maxMs: 500 } });
    // The list on the command line, beside a config file without one.
    const agent = startAgentProcess(['run', '--config', config, '--server', `${ws(dead)},${ws(s.port)}`]);
    const live = `${ws(s.port)}/agent`;
    const status = await vi.waitFor(async () => {
      const { body } = await s.fetchJson('/api/agents');
      expect(body.items[0]?.online).toBe(true);
      const r = await runCli('agent', ['status', '--state', state, '--json']);
      const json = JSON.parse(r.stdout);
      expect(json.serverInUse).toBe(live);
      return json;
    }, WAIT);
    expect(status.servers).toEqual([`${ws(dead)}/agent`, live]);
    expect(status.connected).toBe(true);
    const text = await runCli('agent', ['status', '--state', state]);
    expect(text.stdout).toContain(`Server:          ${live} (connected)`);
    expect(text.stdout).toContain(`Servers:         ${ws(dead)}/agent, ${live} (tried in turn)`);
    await agent.stop();
  });

  it('moves on when the connected server is killed with SIGKILL; every event is stored exactly once, with the same tokens', async () => {
    const [first, second] = [await freePort(), await freePort()];
    const data = tempDir();
    const p1 = await startServerProcess(first, data);
    children.push(p1);
    agents = Array.from({ length: 5 }, () => simAgent([ws(first), ws(second)]));
    await vi.waitFor(() => expect(agents.every((a) => a.transport.server() === `${ws(first)}/agent`)).toBe(true), WAIT);

    // Stream for ~3 s; one second in, the first server dies and the same store comes up on
    // the second URL (the other "instance"). The agents were never told about the change.
    await streamEvents(agents, 3000, async () => {
      p1.kill('SIGKILL');
      await new Promise((r) => p1.once('exit', r));
      children.push(await startServerProcess(second, data));
    });
    await vi.waitFor(() => {
      for (const a of agents) expect(a.outbox.stats().depth).toBe(0);
    }, WAIT);

    for (const a of agents) {
      expect(a.transport.server()).toBe(`${ws(second)}/agent`);
      const ids = storedEvents(data, a.agentId).map((e) => e.id);
      expect(ids.length).toBe(a.sent.length);
      expect(new Set(ids)).toEqual(new Set(a.sent));
      // Enrolled once, then the same token on both: never forgotten, never replaced.
      expect(a.tokens.includes(null)).toBe(false);
      expect(new Set(a.tokens).size).toBe(1);
    }
    expect(agents.reduce((n, a) => n + a.sent.length, 0)).toBeGreaterThan(1000);
  });

  it('keeps its token when one server of the list refuses it and another accepts it', async () => {
    const s = await startTestServer();
    servers.push(s);
    const enrol = simAgent([s.wsUrl]);
    await vi.waitFor(() => expect(enrol.transport.connected()).toBe(true), WAIT);
    const token = enrol.tokens[0]!;
    await enrol.transport.stop(50);

    const refuser = await refusingServer();
    const a = simAgent([ws(refuser.port), s.wsUrl], token, enrol.agentId);
    agents.push(a);
    await vi.waitFor(() => expect(a.transport.server()).toBe(s.wsUrl), WAIT);
    expect(refuser.connections()).toBeGreaterThanOrEqual(1);
    expect(a.tokens).toEqual([token]); // the welcome's token, the same one; never null
    const { body } = await s.fetchJson('/api/agents');
    expect(body.items).toHaveLength(1);
  });

  it('does not retry a server that refuses in a tight loop', async () => {
    const refuser = await refusingServer();
    const dead = await freePort();
    const a = simAgent([ws(refuser.port), ws(dead)]);
    agents.push(a);
    const started = Date.now();
    await vi.waitFor(() => expect(refuser.connections()).toBeGreaterThanOrEqual(3), WAIT);
    // Rounds of two URLs, back-off 100 ms doubling to 400 ms between rounds: about 2.5 rounds
    // a second at full back-off. A loop without back-off would make hundreds of connections.
    await new Promise((r) => setTimeout(r, 2000 - (Date.now() - started)));
    expect(refuser.connections()).toBeLessThanOrEqual(20);
    expect(a.transport.connected()).toBe(false);
  });

  it('refuses a bad URL anywhere in the list: exit 2, naming the option and which URL', async () => {
    const state = join(tempDir(), 'state');
    const bad = await runCli('agent', ['run', '--state', state, '--server', 'wss://a.clinic.example:8470,ws://127.attacker.example:8470']);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toBe('consultguard-agent: --server (URL 2 of 2, "ws://127.attacker.example:8470"): plain ws:// to 127.attacker.example would send events unencrypted; use wss:// (or --insecure on a trusted test network)');
    const fromEnv = await runCli('agent', ['run', '--state', state], { CONSULTGUARD_SERVER_URL: 'wss://a.clinic.example,nonsense' });
    expect(fromEnv.code).toBe(2);
    expect(fromEnv.stderr).toContain('--server (URL 2 of 2, "nonsense"): "nonsense" is not a URL');
  });
});
