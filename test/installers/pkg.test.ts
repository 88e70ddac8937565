/**
 * The macOS product archive read back on Linux: xar listing with bsdtar, the Bom with our
 * reader against the extracted payload, PackageInfo and Distribution as XML, the launchd
 * plists, the scripts' syntax, and the bundled agent from the payload actually scanning.
 * Not verifiable here: running `installer`, launchd loading the plists, signing and
 * notarisation (see installers/README.md).
 */
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBom, type BomFile } from '../../installers/macos/bom-read.js';
import { cksumFile } from '../../installers/macos/cksum.js';
import { DAEMON_LABEL, HELPER_LABEL, INSTALL_ROOT, LAUNCHER, MANAGED_PREFS } from '../../installers/macos/launchd.js';
import { TARGET_TOOLS } from '../../installers/pipeline.js';
import { packageRoot } from '../../shared/paths.js';
import { tempDir } from '../support/server.js';
import { builtInstallers, runNode, SETTINGS, skipUnless } from './build-once.js';
import { find, findAll, parsePlist, parseXml } from './xml.js';

const skip = skipUnless('macOS pkg', TARGET_TOOLS.pkg);
const COMPONENT = 'consultguard-agent.pkg';
const base = `.${INSTALL_ROOT}`;

describe.skipIf(skip)('macOS pkg', () => {
  let dir = '';
  let flat = '';
  let payload = '';
  let scripts = '';
  let pkg = '';
  let bom: BomFile;
  const sh = (cmd: string, args: string[], cwd?: string) => execFileSync(cmd, args, { encoding: 'utf8', cwd, maxBuffer: 64 * 1024 * 1024 });

  beforeAll(async () => {
    dir = tempDir('cg-pkg-');
    [flat, payload, scripts] = ['flat', 'payload', 'scripts'].map((d) => join(dir, d)) as [string, string, string];
    pkg = (await builtInstallers()).files.pkg!;
    for (const d of [flat, payload, scripts]) mkdirSync(d, { recursive: true });
    sh('bsdtar', ['-xf', pkg, '-C', flat]);
    // bsdtar reads the gzipped cpio too; as root it keeps modes and owners.
    sh('bsdtar', ['-xpf', join(flat, COMPONENT, 'Payload'), '-C', payload]);
    sh('bsdtar', ['-xpf', join(flat, COMPONENT, 'Scripts'), '-C', scripts]);
    bom = readBom(readFileSync(join(flat, COMPONENT, 'Bom')));
  }, 420_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('is a xar product archive holding Distribution and one component package', () => {
    expect(pkg).toMatch(/consultguard-agent-\d+\.\d+\.\d+\.pkg$/);
    const names = sh('bsdtar', ['-tf', pkg]).split('\n').filter(Boolean).sort();
    expect(names).toEqual(['Distribution', COMPONENT, `${COMPONENT}/Bom`, `${COMPONENT}/PackageInfo`, `${COMPONENT}/Payload`, `${COMPONENT}/Scripts`].sort());
    expect(readFileSync(pkg).subarray(0, 4).toString('latin1')).toBe('xar!');
  });

  it('has a Bom that lists exactly the payload, with its modes, owners, sizes and checksums', async () => {
    const payloadPaths: string[] = [];
    const walk = (rel: string) => {
      payloadPaths.push(rel);
      if (lstatSync(join(payload, rel)).isDirectory()) for (const n of readdirSync(join(payload, rel))) walk(`${rel}/${n}`);
    };
    walk('.');
    expect(bom.entries.map((e) => e.path).sort()).toEqual(payloadPaths.sort());
    for (const e of bom.entries) {
      const st = lstatSync(join(payload, e.path));
      expect(e.type, e.path).toBe(st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'link' : 'file');
      expect(e.mode, e.path).toBe(st.mode & 0o7777);
      expect([e.uid, e.gid], e.path).toEqual([0, 0]);
      if (e.type === 'file') {
        expect(e.size, e.path).toBe(st.size);
        expect(e.checksum, e.path).toBe(await cksumFile(join(payload, e.path)));
      }
    }
    // Owners as stored in the cpio headers, not just as extracted.
    const listing = sh('bsdtar', ['-tvf', join(flat, COMPONENT, 'Payload'), '--numeric-owner']).split('\n').filter(Boolean);
    expect(listing.every((l) => /^\S+\s+\d+\s+0\s+0\s/.test(l)), listing.find((l) => !/^\S+\s+\d+\s+0\s+0\s/.test(l))).toBe(true);
  });

  it('installs the app, both node runtimes, the launcher, the plists and the uninstall script', () => {
    const mode = (p: string) => bom.entries.find((e) => e.path === p)?.mode;
    expect(mode(`${base}/app/agent.mjs`)).toBe(0o644);
    expect(mode(`${base}/app/package.json`)).toBe(0o644);
    expect(mode(`${base}/app/policies/default.yaml`)).toBe(0o644);
    expect(mode(`${base}/app/policies/catalog/zoom.yaml`)).toBe(0o644);
    expect(mode(`${base}/app/vendor/fastlist-0.3.0-x64.exe`)).toBe(0o644);
    expect(mode(`${base}/runtime/darwin-arm64/bin/node`)).toBe(0o755);
    expect(mode(`${base}/runtime/darwin-x64/bin/node`)).toBe(0o755);
    expect(mode(`.${LAUNCHER}`)).toBe(0o755);
    expect(mode(`${base}/uninstall.sh`)).toBe(0o755);
    expect(mode(`./Library/LaunchDaemons/${DAEMON_LABEL}.plist`)).toBe(0o644);
    expect(mode(`./Library/LaunchAgents/${HELPER_LABEL}.plist`)).toBe(0o644);
    // The two runtimes really are macOS binaries of the two architectures (Mach-O 64: arm64, x86_64).
    const cpu = (arch: string) => readFileSync(join(payload, base, 'runtime', `darwin-${arch}`, 'bin', 'node')).readUInt32LE(4);
    expect(cpu('arm64')).toBe(0x0100000c);
    expect(cpu('x64')).toBe(0x01000007);
  });

  it('bakes the build settings into agent.json, readable by root only', () => {
    expect(bom.entries.find((e) => e.path === `${base}/agent.json`)?.mode).toBe(0o600);
    expect(JSON.parse(readFileSync(join(payload, base, 'agent.json'), 'utf8'))).toEqual(SETTINGS);
  });

  it('has PackageInfo and Distribution that agree with each other and the payload', () => {
    const info = parseXml(readFileSync(join(flat, COMPONENT, 'PackageInfo'), 'utf8'));
    expect(info.name).toBe('pkg-info');
    expect(info.attrs).toMatchObject({ 'format-version': '2', identifier: 'com.consultguard.agent', 'install-location': '/', auth: 'root' });
    expect(info.attrs.version).toMatch(/^\d+\.\d+\.\d+$/);
    const p = find(info, 'payload');
    expect(Number(p.attrs.numberOfFiles)).toBe(bom.entries.length);
    const bytes = bom.entries.filter((e) => e.type !== 'dir').reduce((n, e) => n + e.size, 0);
    expect(Number(p.attrs.installKBytes)).toBe(Math.ceil(bytes / 1024));
    const scriptFiles = find(info, 'scripts').children.map((c) => [c.name, c.attrs.file]);
    expect(scriptFiles).toEqual([['preinstall', './preinstall'], ['postinstall', './postinstall']]);

    const dist = parseXml(readFileSync(join(flat, 'Distribution'), 'utf8'));
    expect(dist.name).toBe('installer-gui-script');
    expect(dist.attrs.minSpecVersion).toBe('2');
    expect(find(dist, 'options').attrs.hostArchitectures!.split(',').sort()).toEqual(['arm64', 'x86_64']);
    expect(find(dist, 'os-version').attrs.min).toBe('11.0');
    expect(find(dist, 'domains').attrs.enable_localSystem).toBe('true');
    const refs = findAll(dist, 'pkg-ref');
    const withPayload = refs.filter((r) => r.text.trim() !== '');
    expect(withPayload).toHaveLength(1);
    expect(withPayload[0]!.attrs).toMatchObject({ id: info.attrs.identifier, version: info.attrs.version, installKBytes: p.attrs.installKBytes });
    expect(withPayload[0]!.text.trim()).toBe(`#${COMPONENT}`);
    // Every choice names a pkg-ref that exists, and the outline names every choice.
    const choiceIds = findAll(dist, 'choice').map((c) => c.attrs.id);
    for (const line of findAll(dist, 'line')) expect(choiceIds).toContain(line.attrs.choice);
    for (const ref of refs) expect(ref.attrs.id).toBe(info.attrs.identifier);
  });

  it('runs the agent from launchd: a KeepAlive daemon as root and a per-session helper', () => {
    const daemon = parsePlist(readFileSync(join(payload, `Library/LaunchDaemons/${DAEMON_LABEL}.plist`), 'utf8')) as Record<string, unknown>;
    expect(daemon).toMatchObject({ Label: DAEMON_LABEL, RunAtLoad: true, KeepAlive: true });
    expect(daemon.ProgramArguments).toEqual([LAUNCHER, 'run', '--config', `${INSTALL_ROOT}/agent.json`]);
    expect(daemon.UserName).toBeUndefined(); // root: the agent must see every user's processes
    const helper = parsePlist(readFileSync(join(payload, `Library/LaunchAgents/${HELPER_LABEL}.plist`), 'utf8')) as Record<string, unknown>;
    expect(helper).toMatchObject({ Label: HELPER_LABEL, RunAtLoad: true, LimitLoadToSessionType: 'Aqua' });
    expect(helper.ProgramArguments).toEqual([LAUNCHER, 'nudge-helper']);
  });

  it('ships shell scripts that parse, and a launcher that picks the runtime and reads managed preferences', () => {
    const files = [join(scripts, 'preinstall'), join(scripts, 'postinstall'), join(payload, `.${LAUNCHER}`), join(payload, base, 'uninstall.sh')];
    for (const f of files) {
      expect(lstatSync(f).mode & 0o111, f).toBe(0o111);
      expect(readFileSync(f, 'utf8')).toMatch(/^#!\/bin\/sh\n/);
      execFileSync('sh', ['-n', f]); // throws on a syntax error
    }
    const launcher = readFileSync(files[2]!, 'utf8');
    expect(launcher).toContain('runtime/darwin-arm64/bin/node');
    expect(launcher).toContain('runtime/darwin-x64/bin/node');
    expect(launcher).toContain(MANAGED_PREFS);
    const uninstall = readFileSync(files[3]!, 'utf8');
    for (const gone of [`/Library/LaunchDaemons/${DAEMON_LABEL}.plist`, `/Library/LaunchAgents/${HELPER_LABEL}.plist`, INSTALL_ROOT, 'pkgutil --forget com.consultguard.agent']) expect(uninstall).toContain(gone);
  });

  it('carries a bundle that runs from the payload on its own (no node_modules) and detects apps', async () => {
    const fixtures = join(packageRoot(), 'test', 'fixtures', 'detect');
    for (const name of ['zoom-darwin-running.json', 'facetime-darwin-in-call.json']) {
      const fixture = JSON.parse(readFileSync(join(fixtures, name), 'utf8')) as { snapshot: unknown; expect: { app: string; state: string }[] };
      const snap = join(dir, name);
      writeFileSync(snap, JSON.stringify(fixture.snapshot));
      const r = await runNode([join(payload, base, 'app', 'agent.mjs'), 'scan', '--snapshot', snap]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const detections = (JSON.parse(r.stdout) as { detections: { app: string; state: string }[] }).detections;
      expect(detections.map((d) => ({ app: d.app, state: d.state }))).toEqual(fixture.expect.map((d) => ({ app: d.app, state: d.state })));
    }
  });
});
