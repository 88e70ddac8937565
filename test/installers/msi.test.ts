/** The MSI's tables, read back with msitools, and Authenticode signing. */
import { execFileSync } from 'node:child_process';
import { copyFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TARGET_TOOLS } from '../../installers/pipeline.js';
import { compileServiceHost } from '../../installers/windows/msi.js';
import { signFile } from '../../installers/windows/sign.js';
import { RUN_VALUE, SERVICE_NAME, UPGRADE_CODE } from '../../installers/windows/wxs.js';
import { packageRoot } from '../../shared/paths.js';
import { tempDir } from '../support/server.js';
import { builtInstallers, SETTINGS, skipUnless } from './build-once.js';

/** `msiinfo export` of one table as objects keyed by its column names. */
function table(msi: string, name: string): Record<string, string>[] {
  const [header, , , ...rows] = execFileSync('msiinfo', ['export', msi, name], { encoding: 'utf8' }).split(/\r?\n/).filter(Boolean);
  const cols = header!.split('\t');
  return rows.map((r) => Object.fromEntries(r.split('\t').map((v, i) => [cols[i]!, v])));
}

const skip = skipUnless('MSI', TARGET_TOOLS.msi);

describe.skipIf(skip)('MSI tables', () => {
  let msi = '';
  beforeAll(async () => {
    msi = (await builtInstallers()).files.msi!;
  }, 420_000);

  it('is named for its version and carries the product identity', () => {
    expect(msi).toMatch(/consultguard-agent-\d+\.\d+\.\d+-x64\.msi$/);
    const props = Object.fromEntries(table(msi, 'Property').map((r) => [r.Property, r.Value]));
    expect(props.UpgradeCode).toBe(`{${UPGRADE_CODE}}`);
    expect(props.ALLUSERS).toBe('1');
    expect(props.SERVER_URL).toBe(SETTINGS.serverUrl);
    expect(props.ENROLL_SECRET).toBe(SETTINGS.enrollSecret);
    expect(props.SITE).toBe(SETTINGS.site);
    // Public properties survive a UAC-elevated msiexec only when listed here.
    expect(props.SecureCustomProperties!.split(';')).toEqual(expect.arrayContaining(['SERVER_URL', 'ENROLL_SECRET', 'SITE', 'WIX_UPGRADE_DETECTED']));
    expect(props.MsiHiddenProperties).toBe('ENROLL_SECRET');
    const summary = execFileSync('msiinfo', ['suminfo', msi], { encoding: 'utf8' });
    expect(summary).toMatch(/Template: x64;1033/);
  });

  it('marks every component 64-bit', () => {
    const components = table(msi, 'Component');
    expect(components.length).toBeGreaterThan(10);
    for (const c of components) expect(Number(c.Attributes) & 256, c.Component).toBe(256);
  });

  it('installs the auto-start service and stops and removes it on uninstall', () => {
    const [svc] = table(msi, 'ServiceInstall');
    expect(svc).toMatchObject({ Name: SERVICE_NAME, ServiceType: '16', StartType: '2', StartName: 'LocalSystem' });
    const [ctl] = table(msi, 'ServiceControl');
    // 1 start on install | 2 stop on install | 32 stop on uninstall | 128 delete on uninstall
    expect(Number(ctl!.Event)).toBe(1 | 2 | 32 | 128);
    expect(ctl!.Wait).toBe('1');
    const files = table(msi, 'File');
    const host = files.find((f) => f.File === 'ServiceExe')!;
    expect(host.FileName).toContain('consultguard-service.exe');
    expect(ctl!.Component_).toBe(host.Component_);
    expect(files.map((f) => f.FileName)).toEqual(expect.arrayContaining([expect.stringContaining('node.exe'), expect.stringContaining('agent.mjs'), expect.stringContaining('fastlist-0.3.0-x64.exe')]));
  });

  it('starts the nudge helper for every user from the HKLM Run key', () => {
    const run = table(msi, 'Registry').find((r) => r.Name === RUN_VALUE)!;
    expect(run.Root).toBe('2'); // HKLM
    expect(run.Key).toBe('Software\\Microsoft\\Windows\\CurrentVersion\\Run');
    expect(run.Value).toBe('"[INSTALLDIR]consultguard-service.exe" nudge-helper');
  });

  it('writes agent.json as SYSTEM with the command line hidden from logs', () => {
    const actions = Object.fromEntries(table(msi, 'CustomAction').map((r) => [r.Action, r]));
    const write = actions.WriteConfig!;
    expect(write.Source).toBe('ServiceExe');
    expect(write.Target).toBe('write-config --server-url "[SERVER_URL]" --enroll-secret "[ENROLL_SECRET]" --site "[SITE]"');
    // 18 exe from an installed file, 1024 deferred, 2048 no impersonation (SYSTEM), 8192 hide target
    expect(Number(write.Type)).toBe(18 | 1024 | 2048 | 8192);
    for (const a of ['StopHelpers', 'PurgeData']) expect(Number(actions[a]!.Type) & (1024 | 2048)).toBe(1024 | 2048);
  });

  it('sequences every action explicitly: removals after the service stops, the config before it starts', () => {
    const seq = Object.fromEntries(table(msi, 'InstallExecuteSequence').map((r) => [r.Action, { n: Number(r.Sequence), cond: r.Condition }]));
    expect(seq.RemoveExistingProducts!.n).toBeGreaterThan(seq.InstallValidate!.n);
    expect(seq.RemoveExistingProducts!.n).toBeLessThan(seq.InstallInitialize!.n);
    expect(seq.WriteConfig!.n).toBeGreaterThan(seq.InstallFiles!.n);
    expect(seq.WriteConfig!.n).toBeLessThan(seq.StartServices!.n);
    for (const a of ['StopHelpers', 'PurgeData']) {
      expect(seq[a]!.n).toBeGreaterThan(seq.DeleteServices!.n);
      expect(seq[a]!.n).toBeLessThan(seq.RemoveFiles!.n);
    }
    expect(seq.PurgeData!.cond).toBe('REMOVE~="ALL" AND NOT UPGRADINGPRODUCTCODE');
    expect(seq.SetCleanDir!.cond).toBe('REMOVE~="ALL" AND NOT UPGRADINGPRODUCTCODE');
  });

  it('removes the generated config on a real uninstall only', () => {
    const rows = table(msi, 'RemoveFile');
    expect(rows).toEqual(expect.arrayContaining([
      expect.objectContaining({ FileName: 'agent.json', DirProperty: 'CG_CLEAN_DATA', InstallMode: '2' }),
      expect.objectContaining({ FileName: '', DirProperty: 'CG_CLEAN_DATA', InstallMode: '2' }),
    ]));
    const set = table(msi, 'CustomAction').find((r) => r.Action === 'SetCleanDir')!;
    expect(set.Source).toBe('CG_CLEAN_DATA');
    expect(set.Target).toBe('[CommonAppDataFolder]ConsultGuard\\');
  });
});

const skipSign = skip || skipUnless('Authenticode signing', ['osslsigncode', 'openssl']);

describe.skipIf(skipSign)('Authenticode signing', () => {
  let dir = '';
  beforeAll(() => {
    dir = tempDir('cg-sign-');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('signs the service host and the MSI so that osslsigncode verifies them', async () => {
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=ConsultGuard Test Signing',
      '-addext', 'extendedKeyUsage=codeSigning'], { stdio: 'ignore' });
    const exe = join(dir, 'consultguard-service.exe');
    await compileServiceHost(packageRoot(), exe);
    await signFile(exe, { cert, key });
    const msi = join(dir, 'signed.msi');
    copyFileSync((await builtInstallers()).files.msi!, join(dir, 'unsigned.msi'));
    await signFile(join(dir, 'unsigned.msi'), { cert, key }, msi);
    for (const f of [exe, msi]) {
      const out = execFileSync('osslsigncode', ['verify', '-CAfile', cert, '-in', f], { encoding: 'utf8' });
      expect(out).toContain('ConsultGuard Test Signing');
      expect(out).toMatch(/Signature verification: ok/);
    }
  }, 120_000);
});
