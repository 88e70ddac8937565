/**
 * Issue 2's path: a process named like Zoom starts on this machine, a real agent (child
 * process) reports it to a real server (loopback port, SQLite file), the feed shows it,
 * and stopping the process ends the violation.
 */
import { userInfo, hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { killAll, runCli, startAgentProcess, startFakeApp } from '../support/processes.js';
import { startTestServer, tempDir, TEST_SECRET, type TestServer } from '../support/server.js';

describe.skipIf(process.platform !== 'linux')('end to end: process to stored violation', () => {
  let server: TestServer;
  beforeEach(async () => {
    // Names shown (--show-names), so the reported user can be compared with this OS account.
    server = await startTestServer({ showNames: true });
  });
  afterEach(async () => {
    await killAll();
    await server.close();
  });

  it('reports a zoom process as a running violation with host and user, and ends it when the process stops', async () => {
    const work = tempDir();
    const agent = startAgentProcess(['run', '--server', server.url, '--enroll-secret', TEST_SECRET, '--state', join(work, 'state'), '--nudge-dir', join(work, 'nudge')]);
    // Wait until the agent is enrolled and monitoring before the app starts.
    await vi.waitFor(async () => {
      const { body } = await server.fetchJson('/api/agents');
      expect(body.items).toHaveLength(1);
      expect(body.items[0].online).toBe(true);
    }, { timeout: 15_000, interval: 200 });

    const zoom = startFakeApp(join(work, 'opt', 'zoom', 'zoom'));
    // The demo policy polls every 2 s: two intervals plus start-up slack.
    const v = await vi.waitFor(async () => {
      const { status, body } = await server.fetchJson('/api/violations?app=zoom');
      expect(status).toBe(200);
      expect(body.items).toHaveLength(1);
      return body.items[0];
    }, { timeout: 10_000, interval: 200 });
    expect(v).toMatchObject({ app: 'zoom', state: 'running', via: 'process', hostname: hostname(), user: userInfo().username, endedAt: null });
    expect(v.evidence.join(' ')).toMatch(/zoom/i);

    // What the clinician or IT sees on the workstation.
    const status = await runCli('agent', ['status', '--state', join(work, 'state')]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/Running: +yes/);
    expect(status.stdout).toMatch(/connected/);
    expect(status.stdout).toMatch(/Seen now: +Zoom \(running/);
    expect(status.stdout).toContain('Approved app:    Healthdirect Video Call');
    // Where its users' helpers must meet it (the --nudge-dir given above), read from status.json by its schema.
    expect(status.stdout).toContain(`Nudge folder:    ${join(work, 'nudge')}`);
    const json = JSON.parse((await runCli('agent', ['status', '--state', join(work, 'state'), '--json'])).stdout);
    expect(json).toMatchObject({ nudgeDir: join(work, 'nudge'), problems: [] });

    zoom.kill('SIGTERM');
    const ended = await vi.waitFor(async () => {
      const { body } = await server.fetchJson('/api/violations?app=zoom');
      expect(body.items[0].endedAt).not.toBeNull();
      return body.items[0];
    }, { timeout: 15_000, interval: 200 });
    expect(ended.id).toBe(v.id);
    expect(Date.parse(ended.endedAt)).toBeGreaterThan(Date.parse(ended.startedAt));

    expect(await agent.stop()).toBe(0);
    expect(agent.output()).not.toContain(TEST_SECRET);
  });
});

describe.skipIf(process.platform !== 'linux')('agent logs', () => {
  it('logs to a rotated file when not on a terminal, without secrets or tokens', async () => {
    const server = await startTestServer();
    const work = tempDir();
    const agent = startAgentProcess(['run', '--server', server.url, '--enroll-secret', TEST_SECRET, '--state', join(work, 'state'), '--nudge-dir', join(work, 'nudge'), '--log-file', join(work, 'logs', 'agent')]);
    await vi.waitFor(async () => expect((await server.fetchJson('/api/agents')).body.items[0]?.online).toBe(true), { timeout: 15_000 });
    expect(await agent.stop()).toBe(0);
    await server.close();
    const { readdirSync, readFileSync } = await import('node:fs');
    const files = readdirSync(join(work, 'logs'));
    expect(files.some((f) => /^agent\.\d+\.log$/.test(f))).toBe(true);
    const text = files.map((f) => readFileSync(join(work, 'logs', f), 'utf8')).join('');
    expect(text).toContain('agent started');
    expect(text).toContain('policy in force');
    const token = JSON.parse(readFileSync(join(work, 'state', 'identity.json'), 'utf8')).token as string;
    expect(token).toMatch(/^cga_/);
    expect(text).not.toContain(TEST_SECRET);
    expect(text).not.toContain(token);
    expect(agent.output()).toBe('');
  });
});
