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
  afterEach(() => {
    if (demo && demo.exitCode === null) demo.kill('SIGKILL');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('starts a nudge helper on the agent\'s nudge folder, prints the credentials, and stops the helper on exit', async () => {
    dir = tempDir('cg-demo-');
    const env: NodeJS.ProcessEnv = { ...process.env, CONSULTGUARD_PORT: '0', CONSULTGUARD_LOG_LEVEL: 'warn' };
    delete env.DISPLAY;
    delete env.WAYLAND_DISPLAY;
    delete env.CONSULTGUARD_DATA_DIR;
    delete env.CONSULTGUARD_NUDGE_DIR;
    const child = spawn(process.execPath, [join(packageRoot(), 'build', 'server', 'demo.js')], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    demo = child;
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', () => {});
    await vi.waitFor(() => expect(out).toContain('Ctrl-C stops'), { timeout: 30_000, interval: 100 });

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
});
