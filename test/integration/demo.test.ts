/**
 * `npm start`'s demo (build/server/demo.js) run as a real process in a temp folder: it
 * prints URL, login, token and secret, starts a nudge helper child beside the agent (same
 * nudge folder on both sides) and stops both children when it is stopped. Linux only here;
 * without DISPLAY/WAYLAND_DISPLAY it says where notifications go instead of failing quietly.
 * What it cannot show: a notification on a real desktop (test/integration nudge tests with
 * dunst cover the helper itself).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { packageRoot } from '../../shared/paths.js';
import { startDesktop, warnIfMissing, type Desktop } from '../support/desktop.js';
import { killAll, startFakeApp } from '../support/processes.js';
import { tempDir } from '../support/server.js';

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('npm start demo', () => {
  let demo: ChildProcess | null = null;
  let dir = '';
  let desktop: Desktop | null = null;
  afterEach(async () => {
    if (demo && demo.exitCode === null) {
      const gone = new Promise((r) => demo!.once('exit', r));
      demo.kill('SIGTERM');
      await gone;
    }
    await killAll();
    await desktop?.stop();
    desktop = null;
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function startDemo(env: NodeJS.ProcessEnv): { child: ChildProcess; out: () => string } {
    const child = spawn(process.execPath, [join(packageRoot(), 'build', 'server', 'demo.js')], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    demo = child;
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', () => {});
    return { child, out: () => out };
  }

  it('starts a nudge helper on the agent\'s nudge folder, prints the credentials, and stops the helper on exit', async () => {
    dir = tempDir('cg-demo-');
    const env: NodeJS.ProcessEnv = { ...process.env, CONSULTGUARD_PORT: '0', CONSULTGUARD_LOG_LEVEL: 'warn' };
    delete env.DISPLAY;
    delete env.WAYLAND_DISPLAY;
    delete env.CONSULTGUARD_DATA_DIR;
    delete env.CONSULTGUARD_NUDGE_DIR;
    const started = startDemo(env);
    const child = started.child;
    await vi.waitFor(() => expect(started.out()).toContain('Ctrl-C stops'), { timeout: 30_000, interval: 100 });
    const out = started.out();

    expect(out).toMatch(/Dashboard: +http:\/\/127\.0\.0\.1:\d+\//);
    expect(out).toMatch(/Login: +admin \/ \S+/);
    expect(out).toMatch(/API token \(lead\): +\S+/);
    expect(out).toMatch(/Enrolment secret: +\S+/);
    // No desktop in this environment: the demo says so rather than letting nudges fail unexplained.
    expect(out).toContain('no desktop session here');

    const m = /Nudge helper: +pid (\d+), folder (.+)/.exec(out);
    expect(m).not.toBeNull();
    const pid = Number(m![1]);
    const nudgeDir = m![2]!.trim();
    expect(nudgeDir).toBe(join(dir, 'data', 'nudge'));
    expect(alive(pid)).toBe(true);
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    expect(cmdline).toContain('nudge-helper');
    expect(cmdline[cmdline.indexOf('--dir') + 1]).toBe(nudgeDir);
    // The agent child names the same folder.
    const agentPid = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/).map(Number).find((p) => p !== pid);
    expect(agentPid).toBeDefined();
    const agentCmd = readFileSync(`/proc/${agentPid}/cmdline`, 'utf8').split('\0');
    expect(agentCmd).toContain('run');
    expect(agentCmd[agentCmd.indexOf('--nudge-dir') + 1]).toBe(nudgeDir);

    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    await vi.waitFor(() => expect(alive(pid)).toBe(false), { timeout: 10_000 });
    expect(alive(agentPid!)).toBe(false);
  }, 60_000);

  // The whole path a newcomer sees: a consumer app opens, the agent reports it, the demo's
  // helper shows the nudge on the desktop (Xvfb + D-Bus + dunst here) and the violation
  // records it. Also shows the demo's agent watches this whole machine, as documented.
  it.skipIf(process.platform !== 'linux' || warnIfMissing('demo nudge on a desktop'))('on a desktop session, a Zoom opened during the demo is nudged on screen and recorded as nudged', async () => {
    dir = tempDir('cg-demo-desk-');
    desktop = await startDesktop(dir);
    const env: NodeJS.ProcessEnv = { ...process.env, ...desktop.env, CONSULTGUARD_PORT: '0', CONSULTGUARD_LOG_LEVEL: 'warn' };
    delete env.CONSULTGUARD_DATA_DIR;
    delete env.CONSULTGUARD_NUDGE_DIR;
    delete env.WAYLAND_DISPLAY;
    const { out } = startDemo(env);
    await vi.waitFor(() => expect(out()).toContain('Ctrl-C stops'), { timeout: 30_000, interval: 100 });
    expect(out()).toContain('desktop notifications through notify-send');
    const url = /Dashboard: +(http:\/\/\S+)\//.exec(out())![1]!;
    const token = /API token \(lead\): +(\S+)/.exec(out())![1]!;
    const agentOnline = async () => ((await (await fetch(`${url}/api/agents`, { headers: { authorization: `Bearer ${token}` } })).json()) as { items: Array<{ online: boolean }> }).items[0]?.online;
    await vi.waitFor(async () => expect(await agentOnline()).toBe(true), { timeout: 20_000, interval: 200 });

    startFakeApp(join(dir, 'opt', 'zoom', 'zoom'));
    await vi.waitFor(async () => expect(await desktop!.displayed()).toBeGreaterThanOrEqual(1), { timeout: 30_000, interval: 200 });
    // Read it back as the clinician saw it (closing moves it to dunst's history).
    await desktop.dunstctl('close');
    await vi.waitFor(async () => expect((await desktop!.history())[0]).toMatchObject({ appname: 'ConsultGuard', body: expect.stringMatching(/^Zoom is not approved/) }), { timeout: 5000, interval: 100 });
    await vi.waitFor(async () => {
      const page = (await (await fetch(`${url}/api/violations?app=zoom`, { headers: { authorization: `Bearer ${token}` } })).json()) as { items: Array<{ nudged: boolean }> };
      expect(page.items.some((v) => v.nudged)).toBe(true);
    }, { timeout: 15_000, interval: 200 });
  }, 90_000);
});
