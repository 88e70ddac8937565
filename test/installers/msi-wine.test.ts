/**
 * The MSI installed, upgraded and removed for real with msiexec under wine, against a real
 * policy server on loopback: the service host starts node.exe, the bundled agent reads the
 * agent.json the custom action wrote and enrols.
 *
 * What wine cannot show (and so is not asserted): UAC, ACL enforcement (wine maps the DACL
 * to unix modes only), MsiHiddenProperties (wine dumps every property at the end of its
 * log), and UPGRADINGPRODUCTCODE (wine does not set it in the old product's removal, so
 * there an upgrade removes state and config like an uninstall; the test passes the
 * properties again, as an Intune or GPO redeployment does).
 */
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { TARGET_TOOLS } from '../../installers/pipeline.js';
import { RUN_VALUE, SERVICE_NAME } from '../../installers/windows/wxs.js';
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

    for (const f of ['consultguard-service.exe', 'node/node.exe', 'app/agent.mjs', 'app/package.json', 'app/policies/default.yaml', 'app/policies/catalog/zoom.yaml', 'app/vendor/fastlist-0.3.0-x64.exe']) {
      expect(existsSync(join(appDir(), f)), f).toBe(true);
    }
    // Command-line properties beat the ones baked in at build time.
    expect(agentConfig()).toEqual({ serverUrl: server.url.replace('http:', 'ws:'), enrollSecret: TEST_SECRET, site: 'north' });
    // Wine turns the SYSTEM + Administrators-only DACL into "no access for others".
    expect(statSync(join(dataDir(), 'agent.json')).mode & 0o007).toBe(0);
    expect(statSync(join(dataDir(), 'logs')).mode & 0o007).not.toBe(0); // an ordinary folder for comparison

    expect((await regValues(wine, HKLM_RUN))?.[RUN_VALUE]).toBe('"C:\\Program Files\\ConsultGuard\\consultguard-service.exe" nudge-helper');
    expect((await regValues(wine, HKLM_AGENT))?.Version).toBe(version);
    expect(await serviceState(wine, SERVICE_NAME)).toBe('RUNNING');
    await vi.waitFor(async () => {
      expect(await agents()).toEqual([expect.objectContaining({ site: 'north', platform: 'win32', online: true })]);
    }, { timeout: 60_000, interval: 500 });
    expect(readFileSync(join(dataDir(), 'logs', 'service.log'), 'utf8')).toMatch(/agent started \(pid \d+\)/);

    // The custom action's command line (with the secret) is not logged; wine's closing
    // property dump, which Windows masks through MsiHiddenProperties, is the only mention.
    const log = readFileSync(join(wine.driveC, 'install.log'), 'utf8');
    const mentions = log.split(/\r?\n/).filter((l) => l.includes(TEST_SECRET));
    expect(mentions.every((l) => /^Property\(\w\): ENROLL_SECRET = /.test(l)), mentions.join('\n')).toBe(true);
  }, 120_000);

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
      expect(await agents()).toEqual(expect.arrayContaining([expect.objectContaining({ site: 'south', platform: 'win32', online: true })]));
    }, { timeout: 60_000, interval: 500 });
  }, 120_000);

  it('uninstalls cleanly: service gone, files, config, state and registry entries removed', async () => {
    const r = await wine.run(['msiexec', '/x', wine.winPath(msiNext), '/qn']);
    expect(r.code).toBe(0);
    expect(await serviceState(wine, SERVICE_NAME)).toBeNull();
    expect(existsSync(appDir())).toBe(false);
    expect(existsSync(dataDir()) ? readdirSync(dataDir(), { recursive: true }) : 'removed').toBe('removed');
    expect(await regValues(wine, HKLM_AGENT)).toBeNull();
    expect((await regValues(wine, HKLM_RUN))?.[RUN_VALUE]).toBeUndefined();
    await vi.waitFor(async () => {
      expect((await agents()).filter((a) => a.online)).toEqual([]);
    }, { timeout: 30_000, interval: 500 });
  }, 120_000);
});
