/**
 * The deb read with dpkg-deb, then installed and purged for real with dpkg into a
 * temporary root (maintainer scripts run chrootless and must stay inside $DPKG_ROOT), and
 * its own node binary running the bundled agent. Not exercised: systemd starting the unit
 * (no systemd as PID 1 here). The unit's settings are checked by `systemd-analyze verify`,
 * and its capability bounding set, parsed from the unit text, is applied with `setpriv` to
 * real processes that do what the service does as root: prepare another user's nudge
 * folder, deliver a nudge to that user's real helper, and close that user's process.
 */
import { execFile, execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { unitFile } from '../../installers/linux/templates.js';
import { TARGET_TOOLS } from '../../installers/pipeline.js';
import { NODE_VERSION } from '../../installers/runtimes.js';
import { packageRoot } from '../../shared/paths.js';
import { tempDir } from '../support/server.js';
import { builtInstallers, SETTINGS, skipUnless } from './build-once.js';

const skip = skipUnless('deb', [...TARGET_TOOLS.deb, 'dpkg']);

/** `Key=Value` lines of a systemd unit or desktop entry, per key (a key may repeat). */
function iniValues(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const m of text.matchAll(/^([A-Za-z][\w-]*)=(.*)$/gm)) out.set(m[1]!, [...(out.get(m[1]!) ?? []), m[2]!]);
  return out;
}

describe.skipIf(skip)('Linux deb', () => {
  let root = '';
  let deb = '';
  const dpkg = (...args: string[]) =>
    execFileSync('dpkg', [`--root=${root}`, '--force-script-chrootless', '--force-not-root', '--log=/dev/null', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

  beforeAll(async () => {
    root = tempDir('cg-deb-root-');
    deb = (await builtInstallers()).files.deb!;
    mkdirSync(join(root, 'var', 'lib', 'dpkg', 'info'), { recursive: true });
    mkdirSync(join(root, 'var', 'lib', 'dpkg', 'updates'), { recursive: true });
    writeFileSync(join(root, 'var', 'lib', 'dpkg', 'status'), '');
    writeFileSync(join(root, 'var', 'lib', 'dpkg', 'available'), '');
  }, 420_000);
  afterAll(() => {
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('declares the package, its maintainer scripts and agent.json as a conffile', () => {
    expect(deb).toMatch(/consultguard-agent_\d+\.\d+\.\d+_amd64\.deb$/);
    const field = (f: string) => execFileSync('dpkg-deb', ['-f', deb, f], { encoding: 'utf8' }).trim();
    expect(field('Package')).toBe('consultguard-agent');
    expect(field('Architecture')).toBe('amd64');
    expect(field('Version')).toMatch(/^\d+\.\d+\.\d+$/);
    expect(Number(field('Installed-Size'))).toBeGreaterThan(100_000); // KiB: the node runtime is inside
    const info = execFileSync('dpkg-deb', ['-I', deb], { encoding: 'utf8' });
    for (const s of ['postinst', 'prerm', 'postrm', 'conffiles']) expect(info).toContain(s);
    const conffiles = execFileSync('sh', ['-c', 'dpkg-deb --ctrl-tarfile "$1" | tar -xOf - ./conffiles', 'sh', deb], { encoding: 'utf8' });
    expect(conffiles.trim()).toBe('/etc/consultguard/agent.json');
  });

  it('lists the files with root ownership and the modes that matter', () => {
    const lines = execFileSync('dpkg-deb', ['-c', deb], { encoding: 'utf8' }).split('\n').filter(Boolean);
    const entry = (path: string) => lines.find((l) => l.endsWith(` ./${path}`));
    expect(lines.every((l) => l.includes(' root/root '))).toBe(true);
    expect(entry('etc/consultguard/agent.json')).toMatch(/^-rw------- /);
    expect(entry('opt/consultguard/node/bin/node')).toMatch(/^-rwxr-xr-x /);
    expect(entry('usr/bin/consultguard-agent')).toMatch(/^-rwxr-xr-x /);
    for (const p of ['opt/consultguard/app/agent.mjs', 'opt/consultguard/app/package.json', 'opt/consultguard/app/policies/default.yaml',
      'opt/consultguard/app/policies/catalog/zoom.yaml', 'opt/consultguard/app/vendor/fastlist-0.3.0-x64.exe',
      'lib/systemd/system/consultguard-agent.service', 'etc/xdg/autostart/consultguard-nudge-helper.desktop']) {
      expect(entry(p), p).toMatch(/^-rw-r--r-- /);
    }
  });

  it('installs with dpkg: config from the build options, unit and autostart in place, nothing outside the root', () => {
    dpkg('-i', deb);
    const status = readFileSync(join(root, 'var', 'lib', 'dpkg', 'status'), 'utf8');
    expect(status).toMatch(/^Status: install ok installed$/m);
    expect(status).toMatch(/^Conffiles:\n \/etc\/consultguard\/agent\.json [0-9a-f]{32}$/m);
    const config = join(root, 'etc', 'consultguard', 'agent.json');
    expect(statSync(config).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(config, 'utf8'))).toEqual(SETTINGS);

    const unit = iniValues(readFileSync(join(root, 'lib', 'systemd', 'system', 'consultguard-agent.service'), 'utf8'));
    expect(unit.get('ExecStart')).toEqual(['/opt/consultguard/node/bin/node --max-semi-space-size=2 --optimize-for-size --single-threaded --no-opt --no-node-snapshot /opt/consultguard/app/agent.mjs run --config /etc/consultguard/agent.json']);
    expect(unit.get('Restart')).toEqual(['on-failure']);
    expect(unit.get('WantedBy')).toEqual(['multi-user.target']);
    expect(unit.get('StateDirectory')).toEqual(['consultguard']);
    expect(unit.get('LogsDirectory')).toEqual(['consultguard']);
    for (const [k, v] of [['NoNewPrivileges', 'yes'], ['ProtectSystem', 'strict'], ['ProtectHome', 'read-only'], ['PrivateTmp', 'yes']]) expect(unit.get(k!), k).toEqual([v]);
    // The agent reads every process under /proc: nothing may hide them.
    for (const k of ['ProtectProc', 'ProcSubset', 'PrivateNetwork', 'User', 'MemoryDenyWriteExecute']) expect(unit.has(k), k).toBe(false);
    expect(unit.get('CapabilityBoundingSet')![0]!.split(' ').sort()).toEqual(['CAP_CHOWN', 'CAP_DAC_READ_SEARCH', 'CAP_KILL', 'CAP_SYS_PTRACE']);
    // Users pass through the state folder to their own nudge folder, and list nothing.
    expect(unit.get('StateDirectoryMode')).toEqual(['0711']);
    for (const path of unit.get('ExecStart')![0]!.split(' ').filter((w) => w.startsWith('/')).slice(0, 2)) expect(existsSync(join(root, path)), path).toBe(true);

    const desktop = iniValues(readFileSync(join(root, 'etc', 'xdg', 'autostart', 'consultguard-nudge-helper.desktop'), 'utf8'));
    expect(desktop.get('Type')).toEqual(['Application']);
    expect(desktop.get('Exec')).toEqual(['/opt/consultguard/node/bin/node /opt/consultguard/app/agent.mjs nudge-helper']);
    // "What ConsultGuard sees" in the app menu (issue 14): the transparency page, opened in the browser.
    const menu = iniValues(readFileSync(join(root, 'usr', 'share', 'applications', 'consultguard-transparency.desktop'), 'utf8'));
    expect(menu.get('Name')).toEqual(['What ConsultGuard sees']);
    expect(menu.get('Exec')).toEqual(['/opt/consultguard/node/bin/node /opt/consultguard/app/agent.mjs transparency --open']);
  });

  it('runs the shipped node runtime and bundle on a recorded snapshot', () => {
    const node = join(root, 'opt', 'consultguard', 'node', 'bin', 'node');
    expect(execFileSync(node, ['--version'], { encoding: 'utf8' }).trim()).toBe(`v${NODE_VERSION}`);
    const fixture = JSON.parse(readFileSync(join(packageRoot(), 'test', 'fixtures', 'detect', 'zoom-linux-running.json'), 'utf8')) as { snapshot: unknown; expect: { app: string }[] };
    const snap = join(root, 'snapshot.json');
    writeFileSync(snap, JSON.stringify(fixture.snapshot));
    const out = JSON.parse(execFileSync(node, [join(root, 'opt', 'consultguard', 'app', 'agent.mjs'), 'scan', '--snapshot', snap], { encoding: 'utf8' })) as { detections: { app: string; state: string }[] };
    expect(out.detections.map((d) => d.app)).toEqual(fixture.expect.map((d) => d.app));
    rmSync(snap);
  });

  it('purges everything it installed, state and logs included', () => {
    mkdirSync(join(root, 'var', 'lib', 'consultguard', 'agent'), { recursive: true });
    writeFileSync(join(root, 'var', 'lib', 'consultguard', 'agent', 'identity.json'), '{}');
    mkdirSync(join(root, 'var', 'log', 'consultguard'), { recursive: true });
    dpkg('--purge', 'consultguard-agent');
    for (const p of ['opt/consultguard', 'etc/consultguard', 'lib/systemd/system/consultguard-agent.service', 'etc/xdg/autostart/consultguard-nudge-helper.desktop',
      'usr/share/applications/consultguard-transparency.desktop', 'usr/bin/consultguard-agent', 'var/lib/consultguard', 'var/log/consultguard']) {
      expect(existsSync(join(root, p)), p).toBe(false);
    }
    expect(readFileSync(join(root, 'var', 'lib', 'dpkg', 'status'), 'utf8')).not.toContain('consultguard-agent');
  });
});

const NOBODY = 65534;
const execFileAsync = promisify(execFile);
const hasTool = (tool: string) => {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};
const asRoot = process.platform === 'linux' && process.getuid?.() === 0;

describe.skipIf(!asRoot || !hasTool('setpriv'))('the systemd unit\'s capabilities, on real processes', () => {
  // The bounding set exactly as the unit declares it, in setpriv's spelling (-all,+chown,...).
  const unitCaps = iniValues(unitFile()).get('CapabilityBoundingSet')![0]!.split(/\s+/);
  const bounding = (caps: string[]) => `-all,${caps.map((c) => `+${c.replace(/^CAP_/, '').toLowerCase()}`).join(',')}`;
  const build = join(packageRoot(), 'build');
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });

  /**
   * Runs `script` (ES module text) with node as root, limited to `caps` like the service;
   * returns its JSON answer. Asynchronously, so this process keeps reaping its children
   * (a killed child left a zombie would still count as running).
   */
  async function asService(work: string, caps: string[], script: string): Promise<{ ok: boolean; [k: string]: unknown }> {
    const file = join(work, `service-${Math.random().toString(36).slice(2)}.mjs`);
    writeFileSync(file, script);
    const { stdout } = await execFileAsync('setpriv', ['--bounding-set', bounding(caps), '--inh-caps', '-all', '--no-new-privs', process.execPath, file], { encoding: 'utf8' });
    return JSON.parse(stdout.trim().split('\n').at(-1)!) as { ok: boolean };
  }

  /** A process of user nobody (the clinician in this test). */
  function asNobody(args: string[]): ChildProcess {
    const child = spawn('setpriv', ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH, HOME: '/nonexistent', CONSULTGUARD_LOG_LEVEL: 'info' } });
    children.push(child);
    return child;
  }

  const nudgeScript = (root: string) => `
import { deliverNudge } from ${JSON.stringify(join(build, 'agent', 'nudge', 'ipc-client.js'))};
import { prepareUserDir } from ${JSON.stringify(join(build, 'agent', 'nudge', 'rendezvous.js'))};
const owner = { uid: ${NOBODY}, gid: ${NOBODY} };
try {
  prepareUserDir(${JSON.stringify(root)}, owner, true);
  const outcomes = [];
  await deliverNudge({ root: ${JSON.stringify(root)}, user: 'nobody', resolveUser: async () => owner, waitForHelperMs: 15000, onOutcome: (o) => outcomes.push(o.outcome),
    request: { type: 'nudge', id: '5f0e8c1e-8a54-4a59-9e43-2a7f7a0d6f10', title: 'T', message: 'M', approved: { name: 'A', url: 'https://vcc.example/' }, timeoutSec: 5 } });
  console.log(JSON.stringify({ ok: true, outcomes }));
} catch (err) {
  console.log(JSON.stringify({ ok: false, error: String(err.code ?? '') + ' ' + err.message }));
}`;

  const killScript = (pid: number) => `
import { closeProcesses } from ${JSON.stringify(join(build, 'agent', 'nudge', 'enforce.js'))};
import { readProcessIdentities } from ${JSON.stringify(join(build, 'agent', 'nudge', 'process-identity.js'))};
const seen = (await readProcessIdentities([${pid}], 'linux')).get(${pid});
const result = await closeProcesses(seen ? [seen] : [], { graceMs: 1000 });
console.log(JSON.stringify({ ok: result.closed.includes(${pid}), seen, result }));`;

  function workDir(): string {
    const work = tempDir('cg-caps-');
    chmodSync(work, 0o755); // the clinician's helper must reach work/nudge
    return work;
  }

  it('prepares another user\'s nudge folder and key, and delivers a nudge to that user\'s real helper', async () => {
    const work = workDir();
    const root = join(work, 'nudge');
    const helper = asNobody([process.execPath, join(build, 'agent', 'cli.js'), 'nudge-helper', '--dir', root]);
    let helperOut = '';
    helper.stderr!.on('data', (d: Buffer) => (helperOut += d.toString()));
    helper.stdout!.on('data', (d: Buffer) => (helperOut += d.toString()));
    const answer = await asService(work, unitCaps, nudgeScript(root));
    expect(answer, helperOut).toMatchObject({ ok: true });
    // The helper answered with its outcomes (no desktop here, so the notifier itself fails).
    expect((answer.outcomes as string[]).length).toBeGreaterThan(0);
    expect(statSync(join(root, String(NOBODY))).uid).toBe(NOBODY);
    expect(statSync(join(root, `${NOBODY}.key`)).uid).toBe(NOBODY);
    expect(statSync(join(root, `${NOBODY}.key`)).mode & 0o777).toBe(0o600);
    expect(statSync(root).mode & 0o777).toBe(0o711);
    await vi.waitFor(() => expect(helperOut).toContain('nudge helper listening'));
  }, 30_000);

  it('closes another user\'s process in enforce mode', async () => {
    const work = workDir();
    const app = asNobody(['sleep', '60']);
    await vi.waitFor(() => expect(existsSync(`/proc/${app.pid}/exe`)).toBe(true));
    // setpriv execs sleep in place: wait until the pid is sleep, running as nobody.
    await vi.waitFor(() => expect(readFileSync(`/proc/${app.pid}/status`, 'utf8')).toMatch(new RegExp(`^Uid:\\s+${NOBODY}\\b`, 'm')));
    const answer = await asService(work, unitCaps, killScript(app.pid!));
    expect(answer).toMatchObject({ ok: true });
    await vi.waitFor(() => expect(app.signalCode).toBe('SIGTERM'));
  }, 30_000);

  it('fails without the capabilities the unit adds (the settings before this change)', async () => {
    const work = workDir();
    const without = unitCaps.filter((c) => c !== 'CAP_CHOWN' && c !== 'CAP_KILL');
    expect(without).toEqual(['CAP_DAC_READ_SEARCH', 'CAP_SYS_PTRACE']);
    const answer = await asService(work, without, nudgeScript(join(work, 'nudge')));
    expect(answer).toMatchObject({ ok: false, error: expect.stringContaining('EPERM') });
    const app = asNobody(['sleep', '60']);
    await vi.waitFor(() => expect(readFileSync(`/proc/${app.pid}/status`, 'utf8')).toMatch(new RegExp(`^Uid:\\s+${NOBODY}\\b`, 'm')));
    expect(await asService(work, without, killScript(app.pid!))).toMatchObject({ ok: false, result: { survivors: [app.pid] } });
  });

  it.skipIf(!hasTool('systemd-analyze'))('passes systemd-analyze verify with no unknown or misspelt settings', () => {
    const dir = tempDir('cg-unit-');
    const file = join(dir, 'consultguard-agent.service');
    writeFileSync(file, unitFile());
    // Warnings (an unknown or misspelt key) go to stderr with exit status 0: read both.
    const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8', timeout: 30_000 });
    const out = `${r.stdout}${r.stderr}`;
    const problems = out.split('\n').filter((l) => l.trim() && !/is not executable|No such file or directory|Command .* not found|consultguard\/node\/bin\/node/.test(l));
    expect(problems).toEqual([]);
  });
});
