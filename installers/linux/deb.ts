/**
 * consultguard-agent_<version>_amd64.deb:
 *   /opt/consultguard/app/...                      the app folder (app.ts)
 *   /opt/consultguard/node/bin/node                official Node.js runtime
 *   /usr/bin/consultguard-agent                    wrapper for admins
 *   /lib/systemd/system/consultguard-agent.service
 *   /etc/consultguard/agent.json                   conffile, 0600, from the build options
 *   /etc/xdg/autostart/consultguard-nudge-helper.desktop
 */
import { join } from 'node:path';
import { agentConfigJson, copyFile, copyTree, normaliseModes, writeFile } from '../files.js';
import { run } from '../exec.js';
import type { PackageInput } from '../package-input.js';
import { AUTOSTART_PATH, CONFIG_FILE, MENU_PATH, OPT, autostartEntry, control, menuEntry, postinst, postrm, prerm, UNIT_PATH, unitFile, wrapper } from './templates.js';
import { readdirSync, statSync } from 'node:fs';

export type DebInput = PackageInput;

const debName = (version: string): string => `consultguard-agent_${version}_amd64.deb`;

function duKb(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return Math.ceil(st.size / 1024);
  return readdirSync(path).reduce((n, name) => n + duKb(join(path, name)), 1);
}

export async function buildDeb(input: DebInput): Promise<string> {
  const root = join(input.workDir, 'root');
  copyTree(input.appDir, join(root, OPT.slice(1), 'app'));
  copyFile(input.runtime.binary, join(root, OPT.slice(1), 'node', 'bin', 'node'));
  if (input.runtime.license) copyFile(input.runtime.license, join(root, OPT.slice(1), 'node', 'LICENSE'));
  writeFile(join(root, 'usr', 'bin', 'consultguard-agent'), wrapper());
  writeFile(join(root, UNIT_PATH.slice(1)), unitFile());
  writeFile(join(root, AUTOSTART_PATH.slice(1)), autostartEntry());
  writeFile(join(root, MENU_PATH.slice(1)), menuEntry());
  normaliseModes(root, (rel) => rel === 'usr/bin/consultguard-agent' || rel.endsWith('node/bin/node'));
  // Always shipped (as a conffile, so local edits survive upgrades); empty when the build had no settings.
  writeFile(join(root, CONFIG_FILE.slice(1)), agentConfigJson(input.settings), 0o600);

  const debian = join(root, 'DEBIAN');
  writeFile(join(debian, 'control'), control(input.version, duKb(root)));
  writeFile(join(debian, 'conffiles'), `${CONFIG_FILE}\n`);
  writeFile(join(debian, 'postinst'), postinst(), 0o755);
  writeFile(join(debian, 'prerm'), prerm(), 0o755);
  writeFile(join(debian, 'postrm'), postrm(), 0o755);

  const out = join(input.outDir, debName(input.version));
  // gzip: several times faster to build than dpkg's default xz on a 120 MB binary, and every dpkg reads it.
  await run('dpkg-deb', ['--root-owner-group', '-Zgzip', '-z6', '--build', root, out]);
  return out;
}
