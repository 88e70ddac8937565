/**
 * Issue 14: an open clinician exception survives an agent restart. A real agent nudges a
 * real helper about Signal; the clinician claims "Emergency" from the nudge (a stand-in
 * notify-send prints that action's key, as in exceptions.test.ts) for the policy's maximum
 * of one minute; the agent is killed with SIGKILL (no shutdown code runs) and started again
 * on the same state folder. Inside the window Signal opened again is not nudged (the outbox
 * says why); once the window has ended it is nudged again. Linux only: real processes read
 * from /proc.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { outboxText } from '../support/agent.js';
import { allDayPolicy } from '../support/policy.js';
import { killAll, startAgentProcess, startFakeApp } from '../support/processes.js';
import { startTestServer, tempDir, TEST_SECRET, type TestServer } from '../support/server.js';

// Signal: an app no other suite starts (suites run in parallel and every agent sees the whole machine).
const POLICY = allDayPolicy('exceptions-restart', `monitor: [signal]
approved:
  name: Healthdirect Video Call
  url: https://vcc.healthdirect.org.au/
mode: nudge
nudge:
  quietMinutes: 0
  maxPerHour: 20
exceptions:
  maxMinutes: 1
  reasons:
    - { id: emergency, label: Emergency }
agent:
  pollSeconds: 1
  endAfterMissedPolls: 2
`);

describe.skipIf(process.platform !== 'linux')('clinician exceptions across an agent restart', () => {
  let work: string;
  let server: TestServer;
  beforeAll(async () => {
    work = tempDir('cg-excr-');
    mkdirSync(join(work, 'policies'));
    writeFileSync(join(work, 'policies', 'p.yaml'), POLICY);
    server = await startTestServer({ policiesDir: join(work, 'policies') });
  });
  afterAll(async () => {
    await killAll();
    await server?.close();
  });

  it('a window claimed before a SIGKILL holds after the restart, and nudges resume once it ends', async () => {
    const bin = join(work, 'bin');
    mkdirSync(bin);
    const calls = join(work, 'notify-calls.txt');
    // The first notification is answered with the exception; later ones are only shown.
    writeFileSync(join(bin, 'notify-send'), `#!/bin/sh\nfirst=1; [ -e '${calls}' ] && first=0\nprintf '%s\\n' "$*" >> '${calls}'\necho 7\n[ $first = 1 ] && { sleep 0.3; echo exc:emergency; }\nexit 0\n`);
    chmodSync(join(bin, 'notify-send'), 0o755);
    const nudgeDir = join(work, 'nudge');
    const state = join(work, 'state');
    const agentArgs = ['run', '--server', server.url, '--enroll-secret', TEST_SECRET, '--state', state, '--nudge-dir', nudgeDir];
    const online = () => vi.waitFor(async () => expect((await server.fetchJson('/api/agents')).body.items[0]?.online).toBe(true), { timeout: 15_000, interval: 200 });
    const nudges = () => (existsSync(calls) ? readFileSync(calls, 'utf8').trim().split('\n').length : 0);
    const signals = async () => (await server.fetchJson('/api/violations?app=signal')).body.items as Array<{ id: string; endedAt: string | null; exception: { reason: string; until: string } | null }>;
    const app = () => join(work, 'opt', 'Signal', 'signal-desktop');

    let agent = startAgentProcess(agentArgs);
    const helper = startAgentProcess(['nudge-helper', '--dir', nudgeDir], { PATH: `${bin}:${process.env.PATH}` });
    await online();
    let signal = startFakeApp(app());
    const claimed = await vi.waitFor(async () => {
      const [v] = await signals();
      expect(v?.exception?.reason).toBe('emergency');
      return v!;
    }, { timeout: 20_000, interval: 200 }).catch((err: unknown) => {
      console.log('DEBUG', outboxText(state), helper.output().slice(-3000), agent.output().slice(-3000));
      throw err;
    });
    const until = Date.parse(claimed.exception!.until);
    expect(until - Date.now()).toBeGreaterThan(30_000); // time left to restart inside the window
    expect(JSON.parse(readFileSync(join(state, 'exceptions.json'), 'utf8')).windows).toHaveLength(1);

    // Killed outright: nothing is saved on the way out. Signal closes while the agent is down.
    expect(await agent.stop('SIGKILL')).toBeNull();
    signal.kill('SIGTERM');
    agent = startAgentProcess(agentArgs);
    await online();
    await vi.waitFor(async () => expect((await signals())[0]?.endedAt).not.toBeNull(), { timeout: 15_000, interval: 200 });

    // Inside the window: a new violation, not nudged, reported under the claim.
    signal = startFakeApp(app());
    const inside = await vi.waitFor(async () => {
      const list = await signals();
      expect(list).toHaveLength(2);
      expect(list[0]!.exception?.reason).toBe('emergency');
      return list[0]!;
    }, { timeout: 15_000, interval: 200 });
    await vi.waitFor(() => expect(outboxText(state)).toMatch(new RegExp(`"violationId":"${inside.id}"[^\\n]*"outcome":"suppressed"[^\\n]*exception claimed: Emergency`)), { timeout: 10_000, interval: 200 });
    expect(Date.now()).toBeLessThan(until);
    expect(nudges()).toBe(1);

    // After the window: Signal again is nudged again.
    signal.kill('SIGTERM');
    await vi.waitFor(async () => expect((await signals())[0]?.endedAt).not.toBeNull(), { timeout: 15_000, interval: 200 });
    await new Promise((r) => setTimeout(r, Math.max(0, until - Date.now() + 500)));
    startFakeApp(app());
    await vi.waitFor(() => expect(nudges()).toBe(2), { timeout: 15_000, interval: 200 });
    // The nudge is shown at once; the violation reaches the server with the next batch.
    const list = await vi.waitFor(async () => {
      const l = await signals();
      expect(l).toHaveLength(3);
      return l;
    }, { timeout: 15_000, interval: 200 });
    expect(list[0]!.exception ?? null).toBeNull();
    await vi.waitFor(() => expect(JSON.parse(readFileSync(join(state, 'exceptions.json'), 'utf8')).windows).toEqual([]), { timeout: 5000, interval: 200 });

    expect(agent.output()).not.toMatch(/exceptions file.*failed/);
    expect(await helper.stop()).toBe(0);
    expect(await agent.stop()).toBe(0);
  }, 150_000);
});
