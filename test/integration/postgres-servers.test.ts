/**
 * Two real server processes (build/server/cli.js) on one throwaway PostgreSQL database:
 * an agent enrolled through instance A is acked there; instance B's feed and its live
 * stream (SSE) show what A ingested, within a second; A is killed with SIGKILL and the
 * agent reconnects to B with its own token and resends its unacked batch: every event is
 * stored once, and B's feed carries the violations ingested through A before it died.
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { packageRoot } from '../../shared/paths.js';
import { pgSkipReason, sharedPostgres } from '../support/postgres.js';
import { freePort, startServerProcess } from '../support/server-process.js';
import { tempDir, TEST_SECRET } from '../support/server.js';
import { connectRaw, eventFrame, helloFrame, makeEvent } from '../support/ws-client.js';

const run = promisify(execFile);
const skip = pgSkipReason();
if (skip) console.warn(skip);

describe.skipIf(skip !== null)('two server instances on one PostgreSQL', () => {
  let url: string;
  let token: string;
  const procs: ChildProcess[] = [];
  const ports: number[] = [];
  const data = [tempDir('cg-pg-a-'), tempDir('cg-pg-b-')];

  beforeAll(async () => {
    url = await (await sharedPostgres()).newDatabase();
    const cli = join(packageRoot(), 'build', 'server', 'cli.js');
    token = (await run(process.execPath, [cli, 'token', 'create', '--role', 'lead', '--name', 'test', '--database', url, '--data', data[0]!])).stdout.trim();
    for (const dir of data) {
      const port = await freePort();
      ports.push(port);
      procs.push(await startServerProcess(port, dir, ['--database', url]));
    }
  }, 60_000);
  afterAll(async () => {
    await Promise.all(procs.filter((p) => p.exitCode === null && p.signalCode === null).map((p) => new Promise((r) => {
      p.once('exit', r);
      p.kill('SIGTERM');
    })));
    await (await sharedPostgres()).destroy();
  });

  const feed = async (port: number) => {
    const r = await fetch(`http://127.0.0.1:${port}/api/violations?limit=100`, { headers: { authorization: `Bearer ${token}` } });
    expect(r.status).toBe(200);
    return (await r.json()) as { items: Array<{ id: string; state: string; endedAt: string | null }> };
  };

  it('what A acks, B shows (feed and live stream within a second); after kill -9 of A the agent resumes on B and nothing is stored twice', async () => {
    const [portA, portB] = ports as [number, number];
    // B's live stream, open before anything is ingested.
    const ac = new AbortController();
    const live = await fetch(`http://127.0.0.1:${portB}/api/violations/stream`, { headers: { authorization: `Bearer ${token}` }, signal: ac.signal });
    expect(live.status).toBe(200);
    const seen: string[] = [];
    const reader = (async () => {
      const dec = new TextDecoder();
      try {
        for await (const chunk of live.body!) for (const m of dec.decode(chunk as Uint8Array).matchAll(/"id":"([0-9a-f-]{36})"/g)) seen.push(m[1]!);
      } catch {
        // aborted at the end
      }
    })();

    const hello = helloFrame({ enrollSecret: TEST_SECRET });
    const a = await connectRaw(`ws://127.0.0.1:${portA}/agent`);
    a.send(hello);
    const welcome = await a.next('welcome');
    const first = makeEvent({ state: 'in-call' });
    const t0 = Date.now();
    a.send(eventFrame(1, [first]));
    expect(await a.next('ack')).toMatchObject({ batch: 1 });
    await vi.waitFor(() => expect(seen).toContain(first.violationId), { timeout: 1000, interval: 10 });
    expect(Date.now() - t0).toBeLessThan(1000);
    expect((await feed(portB)).items.map((v) => v.id)).toEqual([first.violationId]);

    // Batch 2 is sent to A and A dies before (or after) committing it: the agent never saw an ack.
    const second = makeEvent();
    const end = makeEvent({ violationId: first.violationId, kind: 'ended', evidence: ['app closed'] });
    a.send(eventFrame(2, [second, end]));
    procs[0]!.kill('SIGKILL');
    await a.closed;

    const b = await connectRaw(`ws://127.0.0.1:${portB}/agent`);
    b.send({ ...hello, enrollSecret: undefined, token: welcome.token });
    expect((await b.next('welcome')).agentId).toBe(hello.agentId);
    b.send(eventFrame(2, [second, end]));
    expect(await b.next('ack')).toMatchObject({ batch: 2 });
    b.send(eventFrame(3, [first])); // an old event resent: acked, not stored again
    expect(await b.next('ack')).toMatchObject({ batch: 3 });

    const items = (await feed(portB)).items;
    expect(items.map((v) => v.id).sort()).toEqual([first.violationId, second.violationId].sort());
    expect(items.find((v) => v.id === first.violationId)).toMatchObject({ state: 'in-call', endedAt: end.at });
    await vi.waitFor(() => expect(seen).toContain(second.violationId), { timeout: 1000, interval: 10 });
    b.close();
    ac.abort();
    await reader;
  });
});
