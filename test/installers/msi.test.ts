/** The MSI's tables, read back with msitools, and Authenticode signing. */
import { execFileSync } from 'node:child_process';
import { copyFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TARGET_TOOLS } from '../../installers/pipeline.js';
import { compileServiceHost } from '../../installers/windows/msi.js';
import { signFile } from '../../installers/windows/sign.js';
import { AUMID_PROPERTY_KEY } from '../../installers/windows/msi.js';
import { AUMID, renderWxs, SERVICE_NAME, SHORTCUT_ID, UPGRADE_CODE } from '../../installers/windows/wxs.js';
import { parseBuildOptions } from '../../installers/options.js';
import { isAppError } from '../../shared/errors.js';
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

describe('--embed-secret', () => {
  it('is the only way the enrolment secret reaches the MSI, and needs a secret to embed', () => {
    const secret = ['--enroll-secret', SETTINGS.enrollSecret];
    expect(parseBuildOptions(secret, {}, packageRoot())!.settings.embedSecretInMsi).toBeUndefined();
    expect(parseBuildOptions([...secret, '--embed-secret'], {}, packageRoot())!.settings).toMatchObject({ enrollSecret: SETTINGS.enrollSecret, embedSecretInMsi: true });
    expect(parseBuildOptions(secret, { CONSULTGUARD_PACKAGE_EMBED_SECRET: 'true' }, packageRoot())!.settings.embedSecretInMsi).toBe(true);
    let err: unknown;
    try {
      parseBuildOptions(['--embed-secret'], {}, packageRoot());
    } catch (e) {
      err = e;
    }
    expect(isAppError(err) && err.code === 'bad_option' && err.message.includes('needs --enroll-secret')).toBe(true);
  });
});

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
    // Built with --enroll-secret but not --embed-secret: the secret is given at install time.
    expect(props.ENROLL_SECRET).toBeUndefined();
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
    expect(files.map((f) => f.FileName)).toEqual(expect.arrayContaining([expect.stringContaining('consultguard-devices.exe'), expect.stringContaining('node.exe'), expect.stringContaining('agent.mjs'), expect.stringContaining('fastlist-0.3.0-x64.exe')]));
  });

  it('keeps the enrolment secret out of every table (Windows caches the MSI where users can read it)', () => {
    const dump = execFileSync('msiinfo', ['tables', msi], { encoding: 'utf8' }).split(/\r?\n/).filter(Boolean)
      .filter((t) => !t.startsWith('_') && t !== 'Binary' && t !== 'Icon')
      .map((t) => execFileSync('msiinfo', ['export', msi, t], { encoding: 'utf8' })).join('\n');
    expect(dump).toContain(SETTINGS.serverUrl); // the dump does hold the baked-in values...
    expect(dump).not.toContain(SETTINGS.enrollSecret); // ...but not the secret
    // Only an explicit --embed-secret puts it in the Property table.
    const wxs = (embed: boolean) => renderWxs({ root: tempDir('cg-wxs-'), base: '/', version: '1.2.3', settings: { ...SETTINGS, ...(embed ? { embedSecretInMsi: true } : {}) } });
    expect(wxs(false)).not.toContain(SETTINGS.enrollSecret);
    expect(wxs(true)).toContain(`<Property Id="ENROLL_SECRET" Value="${SETTINGS.enrollSecret}" />`);
  });

  it('has no Run key: the service starts the helper in every session', () => {
    expect(table(msi, 'Registry').filter((r) => (r.Key ?? '').endsWith('CurrentVersion\\Run'))).toEqual([]);
  });

  it('registers the consultguard: URL scheme for the toast buttons, handled by the service host', () => {
    const rows = table(msi, 'Registry').filter((r) => (r.Key ?? '').startsWith('Software\\Classes\\consultguard'));
    const value = (key: string, name = '') => rows.find((r) => r.Key === key && r.Name === name)?.Value;
    expect(rows.every((r) => r.Root === '2')).toBe(true); // HKLM
    expect(value('Software\\Classes\\consultguard')).toBe('URL:ConsultGuard nudge');
    expect(rows.some((r) => r.Key === 'Software\\Classes\\consultguard' && r.Name === 'URL Protocol')).toBe(true);
    expect(value('Software\\Classes\\consultguard\\shell\\open\\command')).toBe('"[INSTALLDIR]consultguard-service.exe" open-url "%1"');
  });

  it('adds a Start-menu shortcut that carries ConsultGuard\'s AppUserModelID', () => {
    const [shortcut] = table(msi, 'Shortcut');
    expect(shortcut).toMatchObject({ Shortcut: SHORTCUT_ID, Directory_: 'ProgramMenuFolder', Arguments: 'about' });
    expect(shortcut!.Name).toContain('ConsultGuard');
    expect(table(msi, 'MsiShortcutProperty')).toEqual([
      { MsiShortcutProperty: 'cg_aumid', Shortcut_: SHORTCUT_ID, PropertyKey: AUMID_PROPERTY_KEY, PropVariantValue: AUMID },
    ]);
    const appId = table(msi, 'Registry').find((r) => r.Key === `Software\\Classes\\AppUserModelId\\${AUMID}`);
    expect(appId).toMatchObject({ Name: 'DisplayName', Value: 'ConsultGuard' });
  });

  it('writes agent.json as SYSTEM with the command line hidden from logs', () => {
    const actions = Object.fromEntries(table(msi, 'CustomAction').map((r) => [r.Action, r]));
    const write = actions.WriteConfig!;
    expect(write.Source).toBe('ServiceExe');
    expect(write.Target).toBe('write-config --server-url "[SERVER_URL]" --enroll-secret "[ENROLL_SECRET]" --site "[SITE]"');
    // 18 exe from an installed file, 1024 deferred, 2048 no impersonation (SYSTEM), 8192 hide target
    expect(Number(write.Type)).toBe(18 | 1024 | 2048 | 8192);
    for (const a of ['StopHelpers', 'PurgeData', 'SecureDirs', 'ConfigureService']) expect(Number(actions[a]!.Type) & (1024 | 2048)).toBe(1024 | 2048);
    expect(actions.SecureDirs!.Target).toBe('secure-dirs');
    expect(actions.ConfigureService!.Target).toBe('configure-service');
  });

  it('sequences every action explicitly: removals after the service stops, the config before it starts', () => {
    const seq = Object.fromEntries(table(msi, 'InstallExecuteSequence').map((r) => [r.Action, { n: Number(r.Sequence), cond: r.Condition }]));
    expect(seq.RemoveExistingProducts!.n).toBeGreaterThan(seq.InstallValidate!.n);
    expect(seq.RemoveExistingProducts!.n).toBeLessThan(seq.InstallInitialize!.n);
    expect(seq.WriteConfig!.n).toBeGreaterThan(seq.InstallFiles!.n);
    expect(seq.WriteConfig!.n).toBeLessThan(seq.StartServices!.n);
    // Folders locked down before the config is written; failure actions once the service exists.
    expect(seq.SecureDirs!.n).toBeGreaterThan(seq.InstallFiles!.n);
    expect(seq.SecureDirs!.n).toBeLessThan(seq.WriteConfig!.n);
    expect(seq.ConfigureService!.n).toBeGreaterThan(seq.InstallServices!.n);
    expect(seq.ConfigureService!.n).toBeLessThan(seq.StartServices!.n);
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
