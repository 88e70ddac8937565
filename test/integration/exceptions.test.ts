/**
 * Issue 14, clinician exceptions end to end with real processes: a real agent asks a real
 * nudge helper (child process) to nudge about Viber; the clinician picks "I need this app:
 * The patient cannot use the approved app" (a stand-in notify-send on PATH prints that
 * action's key, as libnotify's does when a button is pressed; the Xvfb + dunst suite in
 * nudge-desktop.test.ts shows the real daemon path); the helper sends `exception` over its
 * IPC, the agent stops nudging Viber for that user, queues the claim durably and the server
 * shows it to a lead, who accepts it (audited); trends count it apart from unexplained use.
 * A second claim goes through `consultguard-agent exception` (the claim channel, for
 * desktops without actionable notifications). Linux only: real processes read from /proc.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { outboxText } from '../support/agent.js';
import { allDayPolicy } from '../support/policy.js';
import { killAll, runCli, startAgentProcess, startFakeApp } from '../support/processes.js';
import { startTestServer, tempDir, TEST_SECRET, type TestServer } from '../support/server.js';

const POLICY = allDayPolicy('exceptions-e2e', `# Apps no other suite starts: suites run in parallel and every agent sees the whole machine.
monitor: [viber, telegram]
approved:
  name: Healthdirect Video Call
  url: https://vcc.healthdirect.org.au/
mode: nudge
nudge:
  quietMinutes: 0
  maxPerHour: 20
exceptions:
  maxMinutes: 45
  reasons:
    - { id: patient-cannot-use, label: The patient cannot use the approved app }
    - { id: emergency, label: Emergency }
transparency:
  contact: Privacy officer, ext. 4410
agent:
  pollSeconds: 1
  endAfterMissedPolls: 2
`);

describe.skipIf(process.platform !== 'linux')('clinician exceptions, helper to lead', () => {
  let work: string;
  let server: TestServer;
  beforeAll(async () => {
    work = tempDir('cg-exc-');
    mkdirSync(join(work, 'policies'));
    writeFileSync(join(work, 'policies', 'p.yaml'), POLICY);
    server = await startTestServer({ policiesDir: join(work, 'policies') });
  });
  afterAll(async () => {
    await killAll();
    await server?.close();
  });

  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${server.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${server.apiToken}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: await res.json() as any };
  };

  it('a claim from the nudge reaches the lead, stops nudges for that app, is accepted and counted apart', async () => {
    const bin = join(work, 'bin');
    mkdirSync(bin);
    const calls = join(work, 'notify-calls.txt');
    // notify-send --print-id --wait: prints the id when shown, then the chosen action's key;
    // once "no-claim" exists, the clinician closes the notification without choosing.
    const noClaim = join(work, 'no-claim');
    writeFileSync(join(bin, 'notify-send'), `#!/bin/sh\nprintf '%s\\n' "$*" >> '${calls}'\necho 7\nsleep 0.3\n[ -e '${noClaim}' ] || echo exc:patient-cannot-use\n`);
    chmodSync(join(bin, 'notify-send'), 0o755);
    const nudgeDir = join(work, 'nudge');
    const state = join(work, 'state');
    const agent = startAgentProcess(['run', '--server', server.url, '--enroll-secret', TEST_SECRET, '--state', state, '--nudge-dir', nudgeDir]);
    const helper = startAgentProcess(['nudge-helper', '--dir', nudgeDir], { PATH: `${bin}:${process.env.PATH}` });
    await vi.waitFor(async () => expect((await server.fetchJson('/api/agents')).body.items[0]?.online).toBe(true), { timeout: 15_000, interval: 200 });

    const viber = startFakeApp(join(work, 'opt', 'viber', 'Viber'));
    const v = await vi.waitFor(async () => {
      const { body } = await server.fetchJson('/api/violations?app=viber');
      expect(body.items[0]?.exception?.reason).toBe('patient-cannot-use');
      return body.items[0];
    }, { timeout: 20_000, interval: 200 }).catch((err: unknown) => {
      console.log('DEBUG', outboxText(state), helper.output().slice(-3000), agent.output().slice(-3000), existsSync(calls) && readFileSync(calls, 'utf8'));
      throw err;
    });
    // The notification offered one action per reason, and the transparency page.
    const args = readFileSync(calls, 'utf8');
    expect(args).toContain('--action=exc:patient-cannot-use=I need this app: The patient cannot use the approved app');
    expect(args).toContain('--action=exc:emergency=I need this app: Emergency');
    expect(args).toContain('--action=sees=What ConsultGuard sees');
    expect(v.exception).toMatchObject({ label: 'The patient cannot use the approved app', decision: null });
    // At most the policy's maximum.
    const window = Date.parse(v.exception.until) - Date.parse(v.exception.claimedAt);
    expect(window).toBeGreaterThan(44 * 60_000);
    expect(window).toBeLessThanOrEqual(45 * 60_000 + 1000);

    const detail = await server.fetchJson(`/api/violations/${v.agentId}/${v.id}`);
    expect(detail.body.violation.exception.reason).toBe('patient-cannot-use');
    expect(detail.body.timeline.map((t: { kind: string }) => t.kind)).toContain('exception-claimed');

    // The same app again inside the window: a new violation, no new nudge, the claim carried over.
    viber.kill('SIGTERM');
    await vi.waitFor(async () => expect((await server.fetchJson('/api/violations?app=viber')).body.items[0].endedAt).not.toBeNull(), { timeout: 15_000, interval: 200 });
    startFakeApp(join(work, 'opt', 'viber', 'Viber'));
    const second = await vi.waitFor(async () => {
      const { body } = await server.fetchJson('/api/violations?app=viber');
      expect(body.items).toHaveLength(2);
      expect(body.items[0].exception?.reason).toBe('patient-cannot-use');
      return body.items[0];
    }, { timeout: 15_000, interval: 200 });
    await vi.waitFor(() => expect(outboxText(state)).toMatch(new RegExp(`"violationId":"${second.id}"[^\\n]*"outcome":"suppressed"[^\\n]*exception claimed: The patient cannot use`)), { timeout: 10_000, interval: 200 });
    expect(readFileSync(calls, 'utf8').trim().split('\n')).toHaveLength(1);

    // Another app, no claim: unexplained use. (Without "no-claim", Telegram's nudge was
    // claimed too, whenever the claim arrived before the trends were read: 3 claimed, 0 unexplained.)
    writeFileSync(noClaim, '');
    startFakeApp(join(work, 'opt', 'Telegram', 'Telegram'));
    await vi.waitFor(async () => expect((await server.fetchJson('/api/violations?app=telegram')).body.items).toHaveLength(1), { timeout: 15_000, interval: 200 });
    const since = new Date(Date.now() - 3_600_000).toISOString();
    let trends = (await server.fetchJson(`/api/trends?since=${since}`)).body;
    expect(trends.exceptions).toEqual({ claimed: 2, accepted: 0, rejected: 0, pending: 2, unexplained: 1 });

    // A lead accepts the first claim: audited, shown on the violation, counted.
    expect((await post(`/api/violations/${v.agentId}/${v.id}/exception`, { decision: 'maybe' })).status).toBe(400);
    const accepted = await post(`/api/violations/${v.agentId}/${v.id}/exception`, { decision: 'accept', note: 'patient has no smartphone' });
    expect(accepted.status).toBe(200);
    expect(accepted.body.exception).toMatchObject({ decision: 'accepted', decidedBy: 'test', note: 'patient has no smartphone' });
    expect((await server.fetchJson(`/api/violations/${v.agentId}/${v.id}`)).body.violation.exception.decision).toBe('accepted');
    trends = (await server.fetchJson(`/api/trends?since=${since}`)).body;
    expect(trends.exceptions).toMatchObject({ claimed: 2, accepted: 1, pending: 1, unexplained: 1 });

    // The clinician claims for Telegram from the command line (no notification buttons needed).
    const bad = await runCli('agent', ['exception', '--app', 'telegram', '--reason', 'bored', '--dir', nudgeDir]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/unknown reason "bored".*patient-cannot-use, emergency/);
    const cli = await runCli('agent', ['exception', '--app', 'telegram', '--reason', 'emergency', '--minutes', '500', '--dir', nudgeDir]);
    expect(cli.stderr).toBe('');
    expect(cli.stdout).toMatch(/Exception open for telegram until .* \(45 min\): emergency/);
    await vi.waitFor(async () => expect((await server.fetchJson('/api/violations?app=telegram')).body.items[0].exception?.reason).toBe('emergency'), { timeout: 10_000, interval: 200 });
    trends = (await server.fetchJson(`/api/trends?since=${since}`)).body;
    expect(trends.exceptions).toMatchObject({ claimed: 3, unexplained: 0 });

    // A violation with no claim cannot be accepted.
    const db = new Database(join(server.dataDir, 'consultguard.db'), { readonly: true });
    try {
      const audit = db.prepare("SELECT actor, action, detail FROM audit WHERE action LIKE 'exception-%'").all() as Array<{ actor: string; action: string; detail: string }>;
      expect(audit).toHaveLength(1);
      expect(audit[0]).toMatchObject({ actor: 'token:test', action: 'exception-accept' });
      expect(audit[0]!.detail).toContain('patient has no smartphone');
    } finally {
      db.close();
    }

    // What the clinician reads, in the words status uses.
    const sees = await runCli('agent', ['transparency', '--dir', nudgeDir]);
    expect(sees.code).toBe(0);
    expect(sees.stdout).toContain('Whom to ask:\n  Privacy officer, ext. 4410.');
    expect(sees.stdout).toContain('No reminders for up to 45 minutes');
    expect(existsSync(join(nudgeDir, 'transparency.json'))).toBe(true);

    expect(helper.output()).not.toMatch(/refused/);
    expect(await helper.stop()).toBe(0);
    expect(await agent.stop()).toBe(0);
  }, 120_000);
});
