/**
 * consultguard-agent-<version>-x64.msi: per-machine, 64-bit, service "ConsultGuardAgent"
 * (which starts the nudge helper in every user session), `consultguard:` URL scheme,
 * Start-menu shortcut with ConsultGuard's AppUserModelID. Built with wixl, then patched
 * with msibuild where wixl 0.101 cannot say what the MSI needs (see wxs.ts).
 */
import { dirname, join } from 'node:path';
import { copyTree, copyFile, writeFile } from '../files.js';
import { run } from '../exec.js';
import { sddlHeader } from './acl.js';
import { nodeFlagsHeader } from './node-flags.js';
import { signFile, type SignOptions } from './sign.js';
import type { PackageInput } from '../package-input.js';
import { COLLECTOR_EXE } from '../../agent/collect/win-native.js';
import { AUMID, CLEAN_DIR_PROPERTY, PUBLIC_PROPERTIES, renderWxs, SERVICE_EXE, SHORTCUT_ID } from './wxs.js';

export interface MsiInput extends PackageInput {
  repoRoot: string;
  sign?: SignOptions;
}

export const msiName = (version: string): string => `consultguard-agent-${version}-x64.msi`;

// Custom action type bits (MSI SDK): 2 exe + 16 source is an installed file,
// 1024 deferred, 2048 no impersonation, 8192 hide target (keeps the command line, and so
// the enrolment secret, out of verbose logs).
const HIDE_TARGET = 8192;

/** The service host's sources (installers/windows/) and the generated SDDL and node-flags headers beside `out`. */
export const SERVICE_HOST_SOURCES = ['service-host.c', 'helpers.c', 'install-actions.c', 'acl.c'];

export async function compileServiceHost(repoRoot: string, out: string): Promise<void> {
  const generated = join(dirname(out), '..', 'generated-include');
  writeFile(join(generated, 'acl-sddl.h'), sddlHeader());
  writeFile(join(generated, 'node-flags.h'), nodeFlagsHeader());
  await run('x86_64-w64-mingw32-gcc', [
    '-municode', '-mwindows', '-O2', '-s', '-Wall', '-I', generated,
    '-o', out, ...SERVICE_HOST_SOURCES.map((f) => join(repoRoot, 'installers', 'windows', f)),
    '-lshell32', '-ladvapi32', '-lwtsapi32', '-luserenv', '-lbcrypt',
  ]);
}

export const DEVICES_EXE = 'consultguard-devices.exe';

export async function compileDevicesProbe(repoRoot: string, out: string): Promise<void> {
  await run('x86_64-w64-mingw32-gcc', [
    '-municode', '-mwindows', '-O2', '-s', '-Wall', '-o', out, join(repoRoot, 'installers', 'windows', 'devices.c'), '-lole32', '-luuid', '-ladvapi32',
  ]);
}

/**
 * consultguard-collector.exe (collector.c): the agent's process and socket collector, put
 * beside the bundle (app\) where agent/collect/win-native.ts looks for it.
 */
export async function compileCollector(repoRoot: string, out: string): Promise<void> {
  await run('x86_64-w64-mingw32-gcc', [
    '-municode', '-mwindows', '-O2', '-s', '-Wall',
    '-o', out, join(repoRoot, 'installers', 'windows', 'collector.c'),
    '-liphlpapi', '-lws2_32', '-lntdll', '-ladvapi32',
  ]);
}

export async function buildMsi(input: MsiInput): Promise<string> {
  const root = join(input.workDir, 'ConsultGuard');
  copyTree(input.appDir, join(root, 'app'));
  copyFile(input.runtime.binary, join(root, 'node', 'node.exe'));
  const serviceExe = join(root, SERVICE_EXE);
  await compileServiceHost(input.repoRoot, serviceExe);
  if (input.sign) await signFile(serviceExe, input.sign);
  // The camera/microphone probe the nudge helper runs as the user (agent/collect/devices/win32.ts).
  const devicesExe = join(root, DEVICES_EXE);
  await compileDevicesProbe(input.repoRoot, devicesExe);
  if (input.sign) await signFile(devicesExe, input.sign);
  const collectorExe = join(root, 'app', COLLECTOR_EXE);
  await compileCollector(input.repoRoot, collectorExe);
  if (input.sign) await signFile(collectorExe, input.sign);

  const wxs = join(input.workDir, 'agent.wxs');
  writeFile(wxs, renderWxs({ root, base: input.workDir, version: input.version, settings: input.settings }));
  const built = join(input.workDir, 'unsigned.msi');
  await run('wixl', ['-a', 'x64', '-o', built, wxs], { cwd: input.workDir });
  await patchMsi(built);

  const out = join(input.outDir, msiName(input.version));
  if (input.sign) await signFile(built, input.sign, out);
  else copyFile(built, out);
  return out;
}

async function patchMsi(msi: string): Promise<void> {
  const sql = (q: string) => run('msibuild', [msi, '-q', q]);
  // Without SecureCustomProperties an elevated (UAC) msiexec drops SERVER_URL & co. given on
  // its command line. wixl writes the row for MajorUpgrade's own properties; add ours to it.
  const { stdout } = await run('msiinfo', ['export', msi, 'Property']);
  const row = stdout.split(/\r?\n/).find((l) => l.startsWith('SecureCustomProperties\t'));
  const existing = row ? (row.split('\t')[1] ?? '').split(';').filter(Boolean) : [];
  const secure = [...new Set([...existing, ...PUBLIC_PROPERTIES])].join(';');
  await sql(row
    ? `UPDATE Property SET Value='${secure}' WHERE Property='SecureCustomProperties'`
    : `INSERT INTO Property (Property, Value) VALUES ('SecureCustomProperties', '${secure}')`);
  await sql(`INSERT INTO Property (Property, Value) VALUES ('MsiHiddenProperties', 'ENROLL_SECRET')`);

  const { stdout: ca } = await run('msiinfo', ['export', msi, 'CustomAction']);
  const type = Number(ca.split(/\r?\n/).find((l) => l.startsWith('WriteConfig\t'))?.split('\t')[1]);
  if (!Number.isInteger(type)) throw new Error('wixl wrote no WriteConfig custom action; check installers/windows/wxs.ts');
  await sql(`UPDATE CustomAction SET Type=${type | HIDE_TARGET} WHERE Action='WriteConfig'`);

  // The generated config goes with a real uninstall (wixl has no RemoveFile element). The
  // folder comes from a property only a real uninstall sets (wxs.ts), so the old product's
  // removal inside a major upgrade finds it empty and leaves agent.json for the new version.
  // The agent's state and logs are deleted by the PurgeData action (RemoveFile cannot
  // recurse). InstallMode 2 = on remove; the row without FileName removes the then-empty
  // %ProgramData%\ConsultGuard folder (msibuild's SQL has no NULL literal, so it is left out).
  await sql(`INSERT INTO RemoveFile (FileKey, Component_, FileName, DirProperty, InstallMode) VALUES ('cg_rm_config', 'c_registry', 'agent.json', '${CLEAN_DIR_PROPERTY}', 2)`);
  await sql(`INSERT INTO RemoveFile (FileKey, Component_, DirProperty, InstallMode) VALUES ('cg_rm_data_dir', 'c_registry', '${CLEAN_DIR_PROPERTY}', 2)`);

  // The shortcut's System.AppUserModel.ID (PKEY {9F4C2855-...}, 5): what lets Windows show
  // toasts sent as AUMID (win32.ts) under ConsultGuard's name. wixl has no ShortcutProperty
  // element (nor the table: it is imported whole, in IDT form, with its one row). Windows
  // Installer 5 reads it when it creates the shortcut.
  const idt = join(dirname(msi), 'MsiShortcutProperty.idt');
  writeFile(idt, [
    'MsiShortcutProperty\tShortcut_\tPropertyKey\tPropVariantValue',
    's72\ts72\ts0\ts0',
    'MsiShortcutProperty\tMsiShortcutProperty',
    `cg_aumid\t${SHORTCUT_ID}\t${AUMID_PROPERTY_KEY}\t${AUMID}`,
    '',
  ].join('\r\n'));
  await run('msibuild', [msi, '-i', idt]);
}

/** PKEY_AppUserModel_ID as the MsiShortcutProperty table spells it. */
export const AUMID_PROPERTY_KEY = '{9F4C2855-9F79-4B39-A8D0-E1D42DE1D5F3}, 5';
