/**
 * The MSI installed, upgraded and removed for real with msiexec under wine, against a real
 * policy server on loopback: the service host starts node.exe, the bundled agent reads the
 * agent.json the custom action wrote and enrols.
 *
 * The service host also starts the nudge helper in the running session and restarts it
 * when it is killed and after a major upgrade; killing the host ends node and the helper
 * (job objects); the consultguard: URL handler, reached through the shell's protocol lookup
 * (`start consultguard:...`), records the click and launches the target (a mingw stub).
 *
 * What wine cannot show (and so is not asserted): UAC, ACL enforcement (wine maps the DACL
 * to unix modes only), MsiHiddenProperties (wine dumps every property at the end of its
 * log), and UPGRADINGPRODUCTCODE (wine does not set it in the old product's removal, so
 * there an upgrade removes state and config like an uninstall; the test passes the
 * properties again, as an Intune or GPO redeployment does). Sessions: wine has one (the
 * console, session 1), enumerates none and sends no logon, unlock or logoff events, so
 * SERVICE_CONTROL_SESSIONCHANGE, several users and a logoff are pilot items
 * (installers/README.md). Wine accepts SCM failure actions but never acts on them (a
 * killed host is restarted here with `sc start`). Toasts and PowerShell are not in wine.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { TARGET_TOOLS } from '../../installers/pipeline.js';
import { parseWindowsDevices } from '../../agent/collect/devices/win32.js';
import { claimUrl, needUrl } from '../../agent/nudge/notify/win32.js';
import { clickFile, newToastNonce, writePending } from '../../agent/nudge/url-handler.js';
import { SERVICE_NAME } from '../../installers/windows/wxs.js';
import { AGENT_NODE_FLAGS } from '../../shared/node-flags.js';
import { packageRoot } from '../../shared/paths.js';
import { startTestServer, tempDir, TEST_SECRET, type TestServer } from '../support/server.js';
import { BUILD_CLI, builtInstallers, runNode, skipUnless } from './build-once.js';
import { createWinePrefix, regValues, serviceState, type WinePrefix } from './wine.js';

const skip = skipUnless('MSI install under wine', [...TARGET_TOOLS.msi, 'wine', 'wineboot', 'wineserver']);

const version = (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
const [major, minor, patch] = version.split('.').map(Number) as [number, number, number];
const nextVersion = `${major}.${minor}.${patch + 1}`;

describe.skipIf(skip)('MSI under wine: install, upgrade, uninstall', () => {
  let wine: WinePrefix;
  let server: TestServer;
  let msi = '';
  let msiNext = '';
  let upgradeDir = '';
  const HKLM_AGENT = 'HKLM\\Software\\ConsultGuard\\Agent';
  const HKLM_RUN = 'HKLM\\Software\\Microsoft\\Windows\\CurrentVersion\\Run';
  const appDir = () => join(wine.driveC, 'Program Files', 'ConsultGuard');
  const dataDir = () => join(wine.driveC, 'ProgramData', 'ConsultGuard');
  const agentConfig = () => JSON.parse(readFileSync(join(dataDir(), 'agent.json'), 'utf8')) as Record<string, string>;
  const agents = async () => ((await server.fetchJson('/api/agents')).body.items as { site: string; platform: string; online: boolean }[]);
  const serviceLog = () => readFileSync(join(dataDir(), 'logs', 'service.log'), 'utf8');
  /** Windows pids the service log names, in order: `nudge helper started in session N (pid P)` and the like. */
  const pids = (re: RegExp, log = serviceLog()) => [...log.matchAll(re)].map((m) => Number(m[1]));
  const HELPER_STARTED = /nudge helper started in session \d+ \(pid (\d+)\)/g;
  const HOST_RUNNING = /service host running \(pid (\d+)\)/g;
  /** Unix processes of this prefix running the installed node.exe (wine shows the Windows command line). */
  const nodeProcesses = () => readdirSync('/proc').filter((p) => /^\d+$/.test(p)).flatMap((p) => {
    try {
      if (!readFileSync(`/proc/${p}/environ`, 'latin1').split('\0').includes(`WINEPREFIX=${wine.prefix}`)) return [];
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ');
      return cmd.includes('ConsultGuard\\node\\node.exe') ? [cmd.trim()] : [];
    } catch {
      return []; // gone meanwhile
    }
  });
  const userDir = () => join(wine.driveC, 'users', readdirSync(join(wine.driveC, 'users')).find((u) => u !== 'Public')!);

  beforeAll(async () => {
    upgradeDir = tempDir('cg-msi-next-');
    const [built, next, prefix, srv] = await Promise.all([
      builtInstallers(),
      // A second MSI, one patch version up, for the major upgrade (settings come from msiexec).
      runNode([BUILD_CLI, '--out', upgradeDir, '--targets', 'msi', '--package-version', nextVersion]),
      createWinePrefix(),
      startTestServer(),
    ]);
    expect(next.stderr).not.toContain('failed');
    expect(next.code).toBe(0);
    msi = built.files.msi!;
    msiNext = next.stdout.trim();
    wine = prefix;
    server = srv;
  }, 420_000);

  afterAll(async () => {
    await wine?.destroy();
    await server?.close();
    if (upgradeDir) rmSync(upgradeDir, { recursive: true, force: true });
  });

  it('installs per machine from msiexec properties and the service enrols with the server', async () => {
    const r = await wine.run(['msiexec', '/i', wine.winPath(msi), '/qn', '/l*v', 'C:\\install.log',
      `SERVER_URL=${server.url.replace('http:', 'ws:')}`, `ENROLL_SECRET=${TEST_SECRET}`, 'SITE=north']);
    expect(r.code).toBe(0);

    for (const f of ['consultguard-service.exe', 'consultguard-devices.exe', 'node/node.exe', 'app/agent.mjs', 'app/package.json', 'app/policies/default.yaml', 'app/policies/catalog/zoom.yaml', 'app/vendor/fastlist-0.3.0-x64.exe']) {
      expect(existsSync(join(appDir(), f)), f).toBe(true);
    }
    // Command-line properties beat the ones baked in at build time.
    expect(agentConfig()).toEqual({ serverUrl: server.url.replace('http:', 'ws:'), enrollSecret: TEST_SECRET, site: 'north' });
    // Wine turns the SYSTEM + Administrators-only DACL into "no access for others".
    expect(statSync(join(dataDir(), 'agent.json')).mode & 0o007).toBe(0);
    expect(statSync(join(dataDir(), 'logs')).mode & 0o007).not.toBe(0); // an ordinary folder for comparison

    // No Run key any more: the service starts the helper itself, in the running session.
    expect(Object.keys((await regValues(wine, HKLM_RUN)) ?? {}).filter((k) => /consultguard/i.test(k))).toEqual([]);
    expect((await regValues(wine, 'HKLM\\Software\\Classes\\consultguard\\shell\\open\\command'))?.['(Default)'])
      .toBe('"C:\\Program Files\\ConsultGuard\\consultguard-service.exe" open-url "%1"');
    expect((await regValues(wine, HKLM_AGENT))?.Version).toBe(version);
    expect(await serviceState(wine, SERVICE_NAME)).toBe('RUNNING');
    await vi.waitFor(async () => {
      expect(await agents()).toEqual([expect.objectContaining({ site: 'north', platform: 'win32', online: true })]);
    }, { timeout: 60_000, interval: 500 });
    expect(serviceLog()).toMatch(/agent started \(pid \d+\)/);
    expect(serviceLog()).toMatch(/configure-service: failure actions set/);
    await vi.waitFor(() => expect(pids(HELPER_STARTED)).toHaveLength(1), { timeout: 30_000, interval: 500 });
    // The agent and the helper run with the V8 flags of shared/node-flags.ts, as on Linux and macOS.
    await vi.waitFor(() => {
      const flagged = (cmd: string) => new RegExp(`node\\.exe"? ${AGENT_NODE_FLAGS.join(' ')} "?.*agent\\.mjs"? ${cmd}`);
      expect(nodeProcesses()).toContainEqual(expect.stringMatching(flagged('run')));
      expect(nodeProcesses()).toContainEqual(expect.stringMatching(flagged('nudge-helper')));
    }, { timeout: 30_000, interval: 500 });
    // The helper runs as the user and logs to that user's own file (before: stderr, lost).
    await vi.waitFor(() => {
      const logs = join(userDir(), 'AppData', 'Local', 'ConsultGuard', 'logs');
      expect(readdirSync(logs).filter((f) => f.startsWith('nudge-helper')).map((f) => readFileSync(join(logs, f), 'utf8')).join('')).toContain('consultguard-agent nudge-helper');
    }, { timeout: 30_000, interval: 500 });

    // The custom action's command line (with the secret) is not logged; wine's closing
    // property dump, which Windows masks through MsiHiddenProperties, is the only mention.
    const log = readFileSync(join(wine.driveC, 'install.log'), 'utf8');
    const mentions = log.split(/\r?\n/).filter((l) => l.includes(TEST_SECRET));
    expect(mentions.every((l) => /^Property\(\w\): ENROLL_SECRET = /.test(l)), mentions.join('\n')).toBe(true);
  }, 120_000);

  it('restarts the nudge helper after it is killed', async () => {
    const [first] = pids(HELPER_STARTED);
    expect((await wine.run(['taskkill', '/f', '/pid', String(first)])).code).toBe(0);
    await vi.waitFor(() => {
      expect(serviceLog()).toMatch(new RegExp(`nudge helper in session \\d+ \\(pid ${first}\\) exited with code \\d+; restarting in 2 s`));
      expect(pids(HELPER_STARTED)).toHaveLength(2);
    }, { timeout: 30_000, interval: 500 });
    expect(pids(HELPER_STARTED)[1]).not.toBe(first);
  }, 60_000);

  it('runs the installed camera/microphone probe: Core Audio answers, the sensor monitor is missing in wine, the registry fallback is read', async () => {
    const key = 'HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\CapabilityAccessManager\\ConsentStore\\webcam\\NonPackaged\\C:#Program Files#Zoom#bin#Zoom.exe';
    await wine.run(['reg', 'add', key, '/v', 'LastUsedTimeStart', '/t', 'REG_QWORD', '/d', '133500000000000000', '/f']);
    await wine.run(['reg', 'add', key, '/v', 'LastUsedTimeStop', '/t', 'REG_QWORD', '/d', '0', '/f']);
    const r = await wine.run(['C:\\Program Files\\ConsultGuard\\consultguard-devices.exe']);
    expect(r.code).toBe(0);
    expect(r.output).toMatch(/^source\tmicrophone\tok\r?$/m);
    expect(parseWindowsDevices(r.output)).toEqual([{ kind: 'camera', path: 'C:\\Program Files\\Zoom\\bin\\Zoom.exe' }]);
  }, 60_000);

  it('the service\'s agent gets capture devices from the helper in the session (wine: the registry fallback, so partial)', async () => {
    // The agent (SYSTEM) asks the helper the service started in this session over its named
    // pipe; the helper runs consultguard-devices.exe as the user and finds the ConsentStore
    // entry of the test above. Wine has no IMFSensorActivityMonitor and no capture session,
    // so `yes` (by pid) cannot be shown here: the unit test replays that report.
    const caps = async () => ((await server.fetchJson('/api/agents')).body.items as { capabilities: Record<string, string> | null }[])[0]?.capabilities;
    await vi.waitFor(async () => expect((await caps())?.captureDevices).toBe('partial'), { timeout: 120_000, interval: 1000 });
  }, 150_000);

  it('handles consultguard: URLs: records the click, then launches the target the helper named', async () => {
    // A stub "approved app": a real Windows program that notes its arguments.
    const stub = join(tempDir('cg-stub-'), 'stub.c');
    writeFileSync(stub, '#include <stdio.h>\nint main(int c, char **v) { FILE *f = fopen("C:\\\\stub-opened.txt", "ab"); for (int i = 1; i < c; i++) fprintf(f, "%s|", v[i]); fprintf(f, "\\n"); fclose(f); return 0; }\n');
    execFileSync('x86_64-w64-mingw32-gcc', ['-O2', '-o', join(wine.driveC, 'stub.exe'), stub]);
    const state = join(userDir(), 'AppData', 'Local', 'ConsultGuard', 'nudge');
    const id = '5f0e8c1e-8a54-4a59-9e43-2a7f7a0d6f10';
    // What the helper writes when it shows a toast (the same function).
    writePending(state, { v: 1, id, expiresAt: Date.now() + 600_000, open: { cmd: 'C:\\stub.exe', args: ['--from-toast', 'two words'] } });
    // Through the shell's URL-scheme lookup, as a toast button does. The stub must still be able
    // to write after the handler exited (the handler's launcher must not take it down with it).
    expect((await wine.run(['start', `consultguard:open?n=${id}`])).code).toBe(0);
    await vi.waitFor(() => {
      expect(readFileSync(join(wine.driveC, 'stub-opened.txt'), 'utf8')).toBe('--from-toast|two words|\n');
      expect(readFileSync(clickFile(state, id), 'utf8')).toBe('open\n');
      expect(readFileSync(`${clickFile(state, id)}.result`, 'utf8')).toBe('opened\n');
    }, { timeout: 60_000, interval: 500 });
    // A URL of another shape never reaches node; an unknown nudge opens nothing.
    const exe = 'C:\\Program Files\\ConsultGuard\\consultguard-service.exe';
    expect((await wine.run([exe, 'open-url', 'consultguard:open?n=" --inspect x'])).code).toBe(2);
    const other = '0b7c2f0e-1111-4a59-9e43-2a7f7a0d6f10';
    expect((await wine.run([exe, 'open-url', `consultguard:open?n=${other}`])).code).toBe(1);
    expect(existsSync(clickFile(state, other))).toBe(false);
    expect(readFileSync(join(wine.driveC, 'stub-opened.txt'), 'utf8').split('\n')).toHaveLength(2); // still one launch

    // "I need this app…" then a reason, through the shell as the toast's buttons do: the claim
    // is recorded for the toast script (which tells the helper, which tells the agent over its
    // IPC: PowerShell is not in wine, so that half is unit-tested in win-toast-exception.test.ts).
    const claimId = '6a1d9c2f-8a54-4a59-9e43-2a7f7a0d6f11';
    const nonce = newToastNonce();
    writePending(state, { v: 1, id: claimId, expiresAt: Date.now() + 600_000, open: { cmd: 'C:\\stub.exe', args: ['approved'] }, nonce, reasons: ['patient-cannot-use', 'emergency'] });
    expect((await wine.run(['start', needUrl(claimId, nonce)])).code).toBe(0);
    await vi.waitFor(() => expect(readFileSync(`${clickFile(state, claimId)}.result`, 'utf8')).toBe('recorded\n'), { timeout: 60_000, interval: 500 });
    expect(readFileSync(clickFile(state, claimId), 'utf8')).toBe('need\n');
    expect((await wine.run([exe, 'open-url', claimUrl(claimId, 'emergency', nonce)])).code).toBe(0);
    expect(readFileSync(clickFile(state, claimId), 'utf8')).toBe('claim:emergency\n');
    // What a web page could send: a replay, another reason, no key, a guessed key, a longer URL.
    expect((await wine.run([exe, 'open-url', claimUrl(claimId, 'emergency', nonce)])).code).toBe(1);
    expect((await wine.run([exe, 'open-url', claimUrl(claimId, 'patient-cannot-use', nonce)])).code).toBe(1);
    expect((await wine.run([exe, 'open-url', `consultguard:claim?n=${claimId}&r=emergency`])).code).toBe(2);
    expect((await wine.run([exe, 'open-url', claimUrl(claimId, 'emergency', newToastNonce())])).code).toBe(1);
    expect((await wine.run([exe, 'open-url', `${claimUrl(claimId, 'emergency', nonce)}&m=${'9'.repeat(40)}`])).code).toBe(2);
    expect(readFileSync(clickFile(state, claimId), 'utf8')).toBe('claim:emergency\n');
    expect(readFileSync(join(wine.driveC, 'stub-opened.txt'), 'utf8').split('\n')).toHaveLength(2); // a claim opens nothing
  }, 180_000);

  it('ends node and the helper when the service host is killed (job objects), and runs again once restarted', async () => {
    expect(nodeProcesses().some((c) => c.includes('agent.mjs run'))).toBe(true);
    expect(nodeProcesses().some((c) => c.includes('agent.mjs nudge-helper'))).toBe(true);
    const [host] = pids(HOST_RUNNING).slice(-1);
    expect((await wine.run(['taskkill', '/f', '/pid', String(host)])).code).toBe(0);
    await vi.waitFor(() => expect(nodeProcesses()).toEqual([]), { timeout: 30_000, interval: 500 });
    const hostsBefore = pids(HOST_RUNNING).length;
    // Wine's service manager does not notice the killed host (and never runs failure actions):
    // restart wine, as a reboot would, and the auto-start service comes back with a helper.
    execFileSync('wineserver', ['-k'], { env: { ...process.env, WINEPREFIX: wine.prefix }, stdio: 'ignore' });
    await vi.waitFor(async () => expect(await serviceState(wine, SERVICE_NAME)).toBe('RUNNING'), { timeout: 90_000, interval: 2000 });
    await vi.waitFor(() => {
      expect(pids(HOST_RUNNING).length).toBe(hostsBefore + 1);
      expect(serviceLog().split(/service host running/).at(-1)).toMatch(HELPER_STARTED);
    }, { timeout: 60_000, interval: 500 });
  }, 240_000);

  it('stops the agent over its stop pipe within the grace period (no console, so no Ctrl+C)', async () => {
    await vi.waitFor(() => expect(serviceLog().split(/service host running/).at(-1)).toMatch(/agent started/), { timeout: 30_000, interval: 500 });
    // The agent listens for the request once it has started; give it that moment.
    await vi.waitFor(async () => expect((await agents()).some((a) => a.online)).toBe(true), { timeout: 60_000, interval: 500 });
    await wine.run(['sc', 'stop', SERVICE_NAME]);
    await vi.waitFor(async () => expect(await serviceState(wine, SERVICE_NAME)).toBe('STOPPED'), { timeout: 30_000, interval: 500 });
    expect(serviceLog()).toMatch(/agent \(pid \d+\) exited after the stop request/);
    expect(serviceLog()).not.toMatch(/did not exit within/);
    expect(nodeProcesses()).toEqual([]); // the helper went with the service
    await wine.run(['sc', 'start', SERVICE_NAME]);
    await vi.waitFor(async () => expect(await serviceState(wine, SERVICE_NAME)).toBe('RUNNING'), { timeout: 30_000, interval: 500 });
    // Leave the service as found: its agent back online (node under wine takes a while to
    // start on a loaded machine), so the next test does not stop an agent still starting.
    await vi.waitFor(async () => expect((await agents()).some((a) => a.online)).toBe(true), { timeout: 90_000, interval: 500 });
  }, 180_000);

  it('upgrades in place to a higher version: one product, new files, service running again', async () => {
    const r = await wine.run(['msiexec', '/i', wine.winPath(msiNext), '/qn',
      `SERVER_URL=${server.url.replace('http:', 'ws:')}`, `ENROLL_SECRET=${TEST_SECRET}`, 'SITE=south']);
    expect(r.code).toBe(0);
    expect((await regValues(wine, HKLM_AGENT))?.Version).toBe(nextVersion);
    expect(JSON.parse(readFileSync(join(appDir(), 'app', 'package.json'), 'utf8'))).toMatchObject({ version: nextVersion });
    expect(agentConfig().site).toBe('south');
    // MajorUpgrade removed the old product: one ConsultGuard entry under Uninstall.
    const listed = await wine.run(['uninstaller', '--list']);
    expect(listed.output.split('\n').filter((l) => l.includes('ConsultGuard Agent'))).toHaveLength(1);
    expect(await serviceState(wine, SERVICE_NAME)).toBe('RUNNING');
    await vi.waitFor(async () => {
      // On failure, the service log's tail says what the upgraded host and agent did.
      expect(await agents(), serviceLog().slice(-1500)).toEqual(expect.arrayContaining([expect.objectContaining({ site: 'south', platform: 'win32', online: true })]));
    }, { timeout: 90_000, interval: 500 });
    // The upgrade's new service host started a helper again (the old one ended with the old host).
    await vi.waitFor(() => {
      const sinceUpgrade = serviceLog().split(/service host running/).at(-1)!;
      expect(pids(/nudge helper started in session \d+ \(pid (\d+)\)/g, sinceUpgrade)).toHaveLength(1);
    }, { timeout: 30_000, interval: 500 });
  }, 180_000);

  it('uninstalls cleanly: service gone, files, config, state and registry entries removed', async () => {
    // A link planted in the state folder (wine shows a unix symlink as a reparse point when
    // listing, as Windows shows a junction): the purge must not follow it. Wine cannot delete
    // such a link through Win32 (RemoveDirectory follows it, DeleteFile is refused), and follows it
    // even through FILE_FLAG_OPEN_REPARSE_POINT, so replacing a planted link is a pilot item; what
    // wine shows is that nothing behind the link is touched.
    mkdirSync(join(wine.driveC, 'victim2'));
    writeFileSync(join(wine.driveC, 'victim2', 'keep.txt'), 'keep');
    symlinkSync(join(wine.driveC, 'victim2'), join(dataDir(), 'agent', 'planted'));
    const r = await wine.run(['msiexec', '/x', wine.winPath(msiNext), '/qn']);
    expect(r.code).toBe(0);
    expect(await serviceState(wine, SERVICE_NAME)).toBeNull();
    expect(existsSync(appDir())).toBe(false);
    expect(readdirSync(join(wine.driveC, 'victim2'))).toEqual(['keep.txt']);
    expect(readdirSync(dataDir(), { recursive: true }).sort()).toEqual(['agent', 'agent/planted', 'agent/planted/keep.txt']); // only the link wine cannot delete
    rmSync(join(dataDir(), 'agent', 'planted'));

    expect(await regValues(wine, HKLM_AGENT)).toBeNull();
    expect(await regValues(wine, 'HKLM\\Software\\Classes\\consultguard')).toBeNull();
    expect(nodeProcesses()).toEqual([]);
    await vi.waitFor(async () => {
      expect((await agents()).filter((a) => a.online)).toEqual([]);
    }, { timeout: 30_000, interval: 500 });
  }, 120_000);
});
