/**
 * Issue 7's path on a real Linux desktop: a consumer app starts, the real agent (child
 * process) asks the real helper (child process, in an Xvfb + D-Bus + dunst session) to
 * nudge; the notification names the approved app; clicking it opens the approved link;
 * the server records the violation as nudged and clicked; a second start of the app in
 * the quiet period shows nothing and is reported as suppressed.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { packageRoot } from '../../shared/paths.js';
import { outboxText } from '../support/agent.js';
import { startDesktop, warnIfMissing, type Desktop } from '../support/desktop.js';
import { killAll, startAgentProcess, startFakeApp } from '../support/processes.js';
import { startTestServer, tempDir, TEST_SECRET, type TestServer } from '../support/server.js';

const APPROVED_URL = 'https://vcc.healthdirect.org.au/';
const ABOUT_URL = 'https://consultguard.example/why';
const POLICY = `version: 1
name: nudge-e2e
default: true
timezone: UTC
consultHours:
  - days: [mon, tue, wed, thu, fri, sat, sun]
    from: "00:00"
    to: "24:00"
monitor: all
approved:
  name: Healthdirect Video Call
  url: ${APPROVED_URL}
mode: nudge
nudge:
  quietMinutes: 30
  maxPerHour: 5
  aboutUrl: ${ABOUT_URL}
agent:
  pollSeconds: 1
  endAfterMissedPolls: 2
`;

const skip = process.platform !== 'linux' || warnIfMissing('nudge desktop end-to-end');
const mode = (file: string) => (statSync(file).mode & 0o777).toString(8);

describe.skipIf(skip)('nudge on a real Linux desktop (Xvfb, D-Bus, dunst)', () => {
  let work: string;
  let desktop: Desktop;
  let server: TestServer;

  beforeAll(async () => {
    work = tempDir('cg-nudge-');
    desktop = await startDesktop(work);
    const policies = join(work, 'policies');
    mkdirSync(policies);
    writeFileSync(join(policies, 'nudge.yaml'), POLICY);
    server = await startTestServer({ policiesDir: policies });
  });
  afterAll(async () => {
    await killAll();
    await server?.close();
    await desktop?.stop();
  });

  it('nudges once toward the approved app, opens it on click, reports it, and stays quiet on a second start', async () => {
    // A stand-in for the desktop's URL opener that records what it was asked to open.
    const bin = join(work, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'xdg-open'), `#!/bin/sh\nprintf '%s\\n' "$@" >> '${join(work, 'opened.txt')}'\n`);
    chmodSync(join(bin, 'xdg-open'), 0o755);

    const agent = startAgentProcess(['run', '--server', server.url, '--enroll-secret', TEST_SECRET, '--state', join(work, 'state')]);
    const helper = startAgentProcess(['nudge-helper', '--dir', join(work, 'nudge')], { ...desktop.env, PATH: `${bin}:${process.env.PATH}` });
    await vi.waitFor(async () => expect((await server.fetchJson('/api/agents')).body.items[0]?.online).toBe(true), { timeout: 15_000, interval: 200 });

    const zoom = startFakeApp(join(work, 'opt', 'zoom', 'zoom'));
    await vi.waitFor(async () => expect(await desktop.displayed()).toBe(1), { timeout: 20_000, interval: 200 });

    const shot = join(packageRoot(), 'test-results', 'nudge-notification.png');
    mkdirSync(join(packageRoot(), 'test-results'), { recursive: true });
    await desktop.screenshot(shot);
    expect(statSync(shot).size).toBeGreaterThan(1000);

    // The IPC folder the agent prepared for this user, and the helper's socket in it.
    const uid = process.getuid!();
    expect(mode(join(work, 'nudge'))).toBe('711');
    expect(mode(join(work, 'nudge', String(uid)))).toBe('700');
    expect(mode(join(work, 'nudge', String(uid), 'key'))).toBe('600');
    expect(mode(join(work, 'nudge', String(uid), 'nudge.sock'))).toBe('600');

    // Click it, as a user would (dunst invokes the notification's default action).
    await desktop.dunstctl('action', '0');
    await vi.waitFor(() => expect(existsSync(join(work, 'opened.txt')) && readFileSync(join(work, 'opened.txt'), 'utf8')).toBe(`${APPROVED_URL}\n`), { timeout: 10_000, interval: 100 });

    const [shown, ...others] = await desktop.history();
    expect(others).toEqual([]);
    expect(shown).toMatchObject({ appname: 'ConsultGuard', summary: 'Please use Healthdirect Video Call for patient consults' });
    expect(shown!.body).toBe('Zoom is not approved for consults at this clinic. Open Healthdirect Video Call to continue the consult securely.');

    const first = await vi.waitFor(async () => {
      const { body } = await server.fetchJson('/api/violations?app=zoom');
      expect(body.items[0]).toMatchObject({ nudged: true, nudgeClicked: true });
      return body.items[0];
    }, { timeout: 10_000, interval: 200 });

    // The app closes and opens again within the quiet period: a new violation, no new nudge.
    zoom.kill('SIGTERM');
    await vi.waitFor(async () => expect((await server.fetchJson('/api/violations?app=zoom')).body.items[0].endedAt).not.toBeNull(), { timeout: 15_000, interval: 200 });
    startFakeApp(join(work, 'opt', 'zoom', 'zoom'));
    const second = await vi.waitFor(async () => {
      const { body } = await server.fetchJson('/api/violations?app=zoom');
      expect(body.items).toHaveLength(2);
      return body.items[0];
    }, { timeout: 15_000, interval: 200 });
    expect(second.id).not.toBe(first.id);
    await vi.waitFor(() => expect(outboxText(join(work, 'state'))).toMatch(new RegExp(`"violationId":"${second.id}"[^\\n]*"outcome":"suppressed"[^\\n]*quiet period`)), { timeout: 10_000, interval: 200 });
    expect(await desktop.displayed()).toBe(0);
    expect(await desktop.history()).toHaveLength(1);
    expect(second).toMatchObject({ nudged: false, nudgeClicked: false });

    expect(helper.output()).not.toMatch(/refused|"level":5/);
    expect(await helper.stop()).toBe(0);
    expect(await agent.stop()).toBe(0);
  }, 90_000);
});
