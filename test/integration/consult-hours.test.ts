/**
 * Consult hours with an injected clock: a real agent (in process, real collectors) and a
 * real server. Monitoring ends at 18:00 local and resumes at 08:00 local on the Monday
 * after Sydney leaves daylight saving; nothing is collected in between.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AgentConfig } from '../../agent/config.js';
import { startAgent, type RunningAgent } from '../../agent/main.js';
import { defaultCollectors, type Collectors } from '../../agent/collect/snapshot.js';
import { silentLogger } from '../../shared/log.js';
import { killAll, startFakeApp } from '../support/processes.js';
import { startTestServer, tempDir, TEST_SECRET, type TestServer } from '../support/server.js';

const POLICY = `
version: 1
name: sydney
default: true
timezone: Australia/Sydney
consultHours:
  - { days: [mon, tue, wed, thu, fri], from: "08:00", to: "18:00" }
monitor: [zoom]
approved: { name: Healthdirect Video Call, url: "https://vcc.healthdirect.org.au/" }
agent: { pollSeconds: 1, endAfterMissedPolls: 2 }
`;

let server: TestServer | undefined;
let agent: RunningAgent | undefined;
afterEach(async () => {
  await agent?.stop();
  await killAll();
  await server?.close();
});

describe.skipIf(process.platform !== 'linux')('consult hours', () => {
  it('ends violations when hours end, collects nothing outside them, and resumes at 08:00 local after a DST change', async () => {
    const policies = tempDir('cg-pol-');
    writeFileSync(join(policies, 'sydney.yaml'), POLICY);
    server = await startTestServer({ policiesDir: policies });
    const work = tempDir();
    startFakeApp(join(work, 'opt', 'zoom', 'zoom'));

    let clock = new Date('2026-04-03T06:59:30Z'); // Friday 17:59:30 in Sydney (UTC+11)
    const real = defaultCollectors();
    let collections = 0;
    const collectors: Collectors = {
      processes: () => ((collections++), real.processes()),
      connections: real.connections,
    };
    const config = AgentConfig.parse({ serverUrl: server.url, enrollSecret: TEST_SECRET, stateDir: join(work, 'state'), nudgeDir: join(work, 'nudge'), reconnect: { minMs: 100, maxMs: 500 } });
    // Every schedule tick reads the clock: counting reads is how the test knows time has
    // passed for the agent (instead of sleeping and hoping).
    let clockReads = 0;
    agent = startAgent(config, silentLogger(), { now: () => ((clockReads++), clock), collectors, scheduleTickMs: 50 });
    /** Resolves once the agent has read the clock `n` more times (n ticks of 50 ms at least). */
    const ticks = (n: number) => {
      const target = clockReads + n;
      return vi.waitFor(() => expect(clockReads).toBeGreaterThanOrEqual(target), { timeout: 10_000, interval: 20 });
    };

    const first = await vi.waitFor(async () => {
      const { body } = await server!.fetchJson('/api/violations?app=zoom');
      expect(body.items).toHaveLength(1);
      return body.items[0];
    }, { timeout: 15_000, interval: 100 });
    expect(first.startedAt).toBe('2026-04-03T06:59:30.000Z');

    clock = new Date('2026-04-03T07:00:30Z'); // 18:00:30: consult hours over
    await vi.waitFor(async () => {
      const { body } = await server!.fetchJson('/api/violations?app=zoom');
      expect(body.items[0].endedAt).toBe('2026-04-03T07:00:30.000Z');
    }, { timeout: 10_000, interval: 100 });
    await vi.waitFor(async () => expect((await server!.fetchJson('/api/agents')).body.items[0].monitoring).toBe(false));

    const outside = collections;
    await ticks(30); // 30 ticks of 50 ms: more than the 1 s poll interval
    clock = new Date('2026-04-05T21:59:30Z'); // Monday 07:59:30 in Sydney, now UTC+10 (08:59 if DST were still on)
    await ticks(30);
    expect(collections).toBe(outside);

    clock = new Date('2026-04-05T22:00:30Z'); // Monday 08:00:30 local
    const second = await vi.waitFor(async () => {
      const { body } = await server!.fetchJson('/api/violations?app=zoom');
      expect(body.items).toHaveLength(2);
      return body.items[0];
    }, { timeout: 10_000, interval: 100 });
    expect(second.startedAt).toBe('2026-04-05T22:00:30.000Z');
    expect(second.id).not.toBe(first.id);
    expect(collections).toBeGreaterThan(outside);
  });
});
