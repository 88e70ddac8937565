/**
 * consultguard-agent-<version>.pkg: one flat product archive for both Mac architectures,
 * written entirely on Linux (no pkgbuild/productbuild). Universal rather than one pkg per
 * CPU: a Jamf policy then targets every Mac with the same package, at the cost of one
 * unused ~45 MB (compressed) runtime per machine; the launcher picks the binary per start.
 *
 *   product.pkg (xar)
 *     Distribution
 *     consultguard-agent.pkg/  PackageInfo  Bom  Payload (cpio.gz)  Scripts (cpio.gz)
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { agentConfigJson, copyFile, copyTree, normaliseModes, writeFile } from '../files.js';
import { run } from '../exec.js';
import type { Runtime } from '../runtimes.js';
import { writeBom } from './bom.js';
import { COMPONENT, distribution, packageInfo } from './distribution.js';
import { daemonPlist, DAEMON_PLIST, helperPlist, HELPER_PLIST, INSTALL_ROOT, launcherScript } from './launchd.js';
import { collectEntries, writeCpioGz } from './payload.js';
import { postinstall, preinstall, uninstallScript } from './scripts.js';

export interface PkgInput {
  appDir: string;
  runtimes: { arm64: Runtime; x64: Runtime };
  workDir: string;
  outDir: string;
  version: string;
  settings: { serverUrl?: string; enrollSecret?: string; site?: string };
}

const pkgName = (version: string): string => `consultguard-agent-${version}.pkg`;

export async function buildPkg(input: PkgInput): Promise<string> {
  const root = join(input.workDir, 'root');
  const base = join(root, INSTALL_ROOT.slice(1));
  copyTree(input.appDir, join(base, 'app'));
  for (const [arch, rt] of Object.entries(input.runtimes)) {
    copyFile(rt.binary, join(base, 'runtime', `darwin-${arch}`, 'bin', 'node'));
    if (rt.license) copyFile(rt.license, join(base, 'runtime', `darwin-${arch}`, 'LICENSE'));
  }
  writeFile(join(base, 'bin', 'consultguard-agent'), launcherScript());
  writeFile(join(base, 'uninstall.sh'), uninstallScript());
  writeFile(join(root, DAEMON_PLIST.slice(1)), daemonPlist());
  writeFile(join(root, HELPER_PLIST.slice(1)), helperPlist());
  const executable = (rel: string) => /(^|\/)(bin\/node|bin\/consultguard-agent|uninstall\.sh)$/.test(rel);
  normaliseModes(root, executable);
  // Baked-in settings only when given: an MDM managed-preferences file can provide them instead.
  if (input.settings.serverUrl || input.settings.enrollSecret || input.settings.site) {
    writeFile(join(base, 'agent.json'), agentConfigJson(input.settings), 0o600);
  }

  const flat = join(input.workDir, 'flat');
  const component = join(flat, COMPONENT);
  mkdirSync(component, { recursive: true });
  const entries = await collectEntries(root);
  const files = entries.filter((e) => e.type !== 'dir');
  const summary = { numberOfFiles: entries.length, installKBytes: Math.ceil(files.reduce((n, e) => n + e.size, 0) / 1024) };

  const scripts = join(input.workDir, 'scripts');
  writeFile(join(scripts, 'preinstall'), preinstall(), 0o755);
  writeFile(join(scripts, 'postinstall'), postinstall(), 0o755);
  await Promise.all([
    writeCpioGz(root, entries, join(component, 'Payload')),
    collectEntries(scripts).then((e) => writeCpioGz(scripts, e, join(component, 'Scripts'))),
  ]);
  writeFile(join(component, 'Bom'), writeBom(entries));
  writeFile(join(component, 'PackageInfo'), packageInfo(input.version, summary));
  writeFile(join(flat, 'Distribution'), distribution(input.version, summary));

  const out = join(input.outDir, pkgName(input.version));
  // Payload and Scripts are gzipped already; xar compression would only cost time.
  await run('bsdtar', ['--format', 'xar', '--options', 'xar:compression=none', '-cf', out, '-C', flat, 'Distribution', COMPONENT]);
  return out;
}
