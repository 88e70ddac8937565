/**
 * Issue 7's path on a real Linux desktop: a consumer app starts, the real agent (child
 * process) asks the real helper (child process, in an Xvfb + D-Bus + dunst session) to
 * nudge; the notification names the approved app; clicking it opens the approved link;
 * the server records the violation as nudged and clicked; a second start of the app in
 * the quiet period shows nothing and is reported as suppressed.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { packageRoot, systemNudgeRoot, userNudgeRoot } from '../../shared/paths.js';
import { outboxText } from '../support/agent.js';
import { startDesktop, warnIfMissing, type Desktop } from '../support/desktop.js';
import { allDayPolicy } from '../support/policy.js';
import { killAll, startAgentProcess, startFakeApp } from '../support/processes.js';
import { startTestServer, tempDir, TEST_SECRET, type TestServer } from '../support/server.js';

const APPROVED_URL = 'https://vcc.healthdirect.org.au/';
const ABOUT_URL = 'https://consultguard.example/why';
const POLICY = allDayPolicy('nudge-e2e', `monitor: all
approved:
  name: Healthdirect Video Call
  url: ${APPROVED_URL}
  check: false      # no internet here: readiness is tested in readiness.test.ts
mode: nudge
nudge:
  quietMinutes: 30
  maxPerHour: 5
  aboutUrl: ${ABOUT_URL}
agent:
  pollSeconds: 1
  endAfterMissedPolls: 2
`);

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

    // The rendezvous named on both sides (--nudge-dir on the agent, --dir on the helper).
    const agent = startAgentProcess(['run', '--server', server.url, '--enroll-secret', TEST_SECRET, '--state', join(work, 'state'), '--nudge-dir', join(work, 'nudge')]);
    const helper = startAgentProcess(['nudge-helper', '--dir', join(work, 'nudge'), '--log-file', '-'], { ...desktop.env, PATH: `${bin}:${process.env.PATH}` });
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
    expect(mode(join(work, 'nudge', `${uid}.key`))).toBe('600');
    // Reachable only through the 0700 folder; 0666 so the service needs no CAP_DAC_OVERRIDE.
    expect(mode(join(work, 'nudge', String(uid), 'nudge.sock'))).toBe('666');

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

  it('meets with no rendezvous option on either side: an agent with --state DIR and a helper started with no options', async () => {
    // Both fall back to the per-OS folder (shared/paths.ts); as root that is the system
    // folder of this machine, as another user that user's own. Whatever this test creates
    // there it removes again.
    const root = process.getuid!() === 0 ? systemNudgeRoot() : userNudgeRoot()!;
    const created = [dirname(root), root].filter((d) => !existsSync(d));
    const uid = process.getuid!();
    const own = [join(root, String(uid)), join(root, `${uid}.key`)].filter((f) => !existsSync(f));
    const other = tempDir('cg-nudge2-');
    const bin = join(other, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'xdg-open'), '#!/bin/sh\nexit 0\n');
    chmodSync(join(bin, 'xdg-open'), 0o755);
    const env = { ...desktop.env, PATH: `${bin}:${process.env.PATH}` };
    delete (env as Record<string, string | undefined>).CONSULTGUARD_NUDGE_DIR;
    try {
      const shownBefore = (await desktop.history()).length;
      // --log-file -: not a rendezvous option; the helper logs to a per-user file when not on a terminal.
      const helper = startAgentProcess(['nudge-helper', '--log-file', '-'], env);
      const agent = startAgentProcess(['run', '--server', server.url, '--enroll-secret', TEST_SECRET, '--state', join(other, 'elsewhere', 'state')]);
      startFakeApp(join(other, 'opt', 'zoom', 'zoom'));
      await vi.waitFor(async () => expect(await desktop.displayed()).toBe(1), { timeout: 25_000, interval: 200 });
      expect(helper.output()).toContain(`"path":"${join(root, String(uid), 'nudge.sock')}"`);
      await desktop.dunstctl('close-all');
      await vi.waitFor(async () => expect((await desktop.history()).length).toBe(shownBefore + 1), { timeout: 10_000, interval: 200 });
      expect(await helper.stop()).toBe(0);
      expect(await agent.stop()).toBe(0);
    } finally {
      for (const f of own) rmSync(f, { recursive: true, force: true });
      for (const d of created.reverse()) rmSync(d, { recursive: true, force: true });
    }
  }, 60_000);
});

describe.skipIf(process.platform === 'win32')('nudge helper waiting for the agent', () => {
  it('names the folder it watches and how to point it elsewhere', async () => {
    const dir = join(tempDir('cg-nudge3-'), 'nowhere');
    const helper = startAgentProcess(['nudge-helper', '--log-file', '-'], { CONSULTGUARD_NUDGE_DIR: dir });
    await vi.waitFor(() => expect(helper.output()).toContain('waiting for the ConsultGuard agent'), { timeout: 10_000, interval: 100 });
    expect(helper.output()).toContain(`watching \\"${dir}\\"`);
    expect(helper.output()).toContain('--nudge-dir or CONSULTGUARD_NUDGE_DIR on the agent');
    expect(await helper.stop()).toBe(0);
  });
});
