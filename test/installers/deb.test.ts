/**
 * The deb read with dpkg-deb, then installed and purged for real with dpkg into a
 * temporary root (maintainer scripts run chrootless and must stay inside $DPKG_ROOT), and
 * its own node binary running the bundled agent. Not exercised: systemd starting the unit
 * (no systemd as PID 1 here); the unit's settings are checked as text.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
    expect(unit.get('ExecStart')).toEqual(['/opt/consultguard/node/bin/node /opt/consultguard/app/agent.mjs run --config /etc/consultguard/agent.json']);
    expect(unit.get('Restart')).toEqual(['on-failure']);
    expect(unit.get('WantedBy')).toEqual(['multi-user.target']);
    expect(unit.get('StateDirectory')).toEqual(['consultguard']);
    expect(unit.get('LogsDirectory')).toEqual(['consultguard']);
    for (const [k, v] of [['NoNewPrivileges', 'yes'], ['ProtectSystem', 'strict'], ['ProtectHome', 'read-only'], ['PrivateTmp', 'yes']]) expect(unit.get(k!), k).toEqual([v]);
    // The agent reads every process under /proc: nothing may hide them.
    for (const k of ['ProtectProc', 'ProcSubset', 'PrivateNetwork', 'User', 'MemoryDenyWriteExecute']) expect(unit.has(k), k).toBe(false);
    expect(unit.get('CapabilityBoundingSet')![0]!.split(' ').sort()).toEqual(['CAP_DAC_READ_SEARCH', 'CAP_SYS_PTRACE']);
    for (const path of unit.get('ExecStart')![0]!.split(' ').slice(0, 2)) expect(existsSync(join(root, path)), path).toBe(true);

    const desktop = iniValues(readFileSync(join(root, 'etc', 'xdg', 'autostart', 'consultguard-nudge-helper.desktop'), 'utf8'));
    expect(desktop.get('Type')).toEqual(['Application']);
    expect(desktop.get('Exec')).toEqual(['/opt/consultguard/node/bin/node /opt/consultguard/app/agent.mjs nudge-helper']);
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
      'usr/bin/consultguard-agent', 'var/lib/consultguard', 'var/log/consultguard']) {
      expect(existsSync(join(root, p)), p).toBe(false);
    }
    expect(readFileSync(join(root, 'var', 'lib', 'dpkg', 'status'), 'utf8')).not.toContain('consultguard-agent');
  });
});
