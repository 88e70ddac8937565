/**
 * The WiX source for wixl (msitools 0.101), written around its known gaps:
 * - `Win64="yes"` on every component (`-a x64` alone leaves them 32-bit, and registry
 *   writes would land under WOW6432Node);
 * - explicit `Sequence=` on every custom action and on RemoveExistingProducts (wixl's
 *   Before/After ordering is not deterministic);
 * - what wixl cannot express (SecureCustomProperties with MajorUpgrade, MsiHiddenProperties,
 *   RemoveFile, the custom action's HideTarget bit) is patched in by msi.ts with msibuild.
 *
 * Layout under C:\Program Files\ConsultGuard\: consultguard-service.exe, node\node.exe,
 * app\ (see app.ts). The service starts the nudge helper in every user session itself
 * (helpers.c; no Run key). The MSI registers the `consultguard:` URL scheme the toast buttons
 * use (protocol activation: nothing has to listen for toast events) and a Start-menu
 * shortcut carrying ConsultGuard's AppUserModelID (msi.ts adds the MsiShortcutProperty row),
 * which Windows needs before it shows a desktop app's toasts under its own name.
 *
 * The enrolment secret is NOT a Property-table default unless the build asks for it
 * (`--embed-secret`): Windows keeps every installed MSI in C:\Windows\Installer, readable by
 * every user. It is given at install time (msiexec ENROLL_SECRET=, a transform, Intune). Component GUIDs are derived from the UpgradeCode and the file's path,
 * so they stay stable across versions as the component rules require.
 */
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { xmlEscape } from '../files.js';

/** Never change: it is how a new MSI finds and replaces every older one. */
export const UPGRADE_CODE = '6E0C7A52-3D4B-4C8E-9A51-2B7F0C1D9E43';
export const SERVICE_NAME = 'ConsultGuardAgent';
export const SERVICE_EXE = 'consultguard-service.exe';
/** The toast sender; the Start-menu shortcut and HKLM\Software\Classes\AppUserModelId name it. */
export const AUMID = 'ConsultGuard.Agent';
export const URL_SCHEME = 'consultguard';
export const SHORTCUT_ID = 'ConsultGuardShortcut';
export const PUBLIC_PROPERTIES = ['SERVER_URL', 'ENROLL_SECRET', 'SITE'] as const;

/**
 * Set only on a real uninstall (not the old product's removal inside a major upgrade); it
 * names the folder of the RemoveFile rows msi.ts adds, so those rows do nothing during an
 * upgrade and agent.json survives it.
 */
export const CLEAN_DIR_PROPERTY = 'CG_CLEAN_DATA';
const REAL_UNINSTALL = 'REMOVE~="ALL" AND NOT UPGRADINGPRODUCTCODE';

export interface WxsInput {
  /** Staged install folder (becomes INSTALLDIR). */
  root: string;
  /** Folder wixl runs in: Source paths are written relative to it (wixl 0.101 fails on absolute ones). */
  base: string;
  version: string;
  settings: { serverUrl?: string; enrollSecret?: string; site?: string; embedSecretInMsi?: boolean };
}

function hashId(prefix: string, rel: string): string {
  return `${prefix}${createHash('sha1').update(rel).digest('hex').slice(0, 20)}`;
}

function guidFor(rel: string): string {
  const h = createHash('sha1').update(`${UPGRADE_CODE}:${rel.toLowerCase()}`).digest('hex');
  // RFC 4122 name-based layout: version 5, variant 10.
  const v = `5${h.slice(13, 16)}`;
  const variant = ((parseInt(h.slice(16, 18), 16) & 0x3f) | 0x80).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${v}-${variant}${h.slice(18, 20)}-${h.slice(20, 32)}`.toUpperCase();
}

const FILE_IDS: Record<string, string> = {
  [SERVICE_EXE]: 'ServiceExe', 'node/node.exe': 'NodeExe', 'app/agent.mjs': 'AgentBundle',
  'app/consultguard-collector.exe': 'CollectorExe', // installers/windows/collector.c, built by msi.ts
};

interface Tree {
  xml: string[];
  components: string[];
}

function walk(root: string, base: string, rel: string, indent: string, out: Tree): void {
  for (const name of readdirSync(join(root, rel)).sort()) {
    const childRel = rel ? `${rel}/${name}` : name;
    const abs = join(root, childRel);
    if (lstatSync(abs).isDirectory()) {
      out.xml.push(`${indent}<Directory Id="${hashId('d_', childRel)}" Name="${xmlEscape(name)}">`);
      walk(root, base, childRel, `${indent}  `, out);
      out.xml.push(`${indent}</Directory>`);
      continue;
    }
    const cid = hashId('c_', childRel);
    out.components.push(cid);
    const fileId = FILE_IDS[childRel] ?? hashId('f_', childRel);
    out.xml.push(`${indent}<Component Id="${cid}" Guid="${guidFor(childRel)}" Win64="yes">`);
    out.xml.push(`${indent}  <File Id="${fileId}" Name="${xmlEscape(name)}" Source="${xmlEscape(relative(base, abs))}" KeyPath="yes" />`);
    if (childRel === SERVICE_EXE) {
      out.xml.push(
        `${indent}  <ServiceInstall Id="AgentService" Name="${SERVICE_NAME}" DisplayName="ConsultGuard Agent" Description="Reports consumer video apps used during consult hours to the clinic's ConsultGuard server." Type="ownProcess" Start="auto" ErrorControl="normal" Account="LocalSystem" Vital="yes" />`,
        `${indent}  <ServiceControl Id="AgentServiceControl" Name="${SERVICE_NAME}" Start="install" Stop="both" Remove="uninstall" Wait="yes" />`,
      );
    }
    out.xml.push(`${indent}</Component>`);
  }
}

export function renderWxs(input: WxsInput): string {
  const tree: Tree = { xml: [], components: [] };
  walk(input.root, input.base, '', '          ', tree);
  const defaults = [
    ['SERVER_URL', input.settings.serverUrl],
    ['ENROLL_SECRET', input.settings.embedSecretInMsi ? input.settings.enrollSecret : undefined],
    ['SITE', input.settings.site],
  ]
    .filter((p): p is [string, string] => Boolean(p[1]))
    .map(([id, value]) => `    <Property Id="${id}" Value="${xmlEscape(value)}" />`);
  const cond = xmlEscape(REAL_UNINSTALL);
  const q = '&quot;';
  return `<?xml version="1.0" encoding="utf-8"?>
<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">
  <Product Id="*" Name="ConsultGuard Agent" Language="1033" Version="${input.version}" Manufacturer="ConsultGuard" UpgradeCode="${UPGRADE_CODE}">
    <Package InstallerVersion="500" Compressed="yes" InstallScope="perMachine" InstallPrivileges="elevated" Description="ConsultGuard Agent ${input.version}" Comments="Endpoint agent of ConsultGuard" />
    <MajorUpgrade DowngradeErrorMessage="A newer version of ConsultGuard Agent is already installed." />
    <MediaTemplate EmbedCab="yes" />
    <Condition Message="ConsultGuard Agent needs 64-bit Windows.">VersionNT64</Condition>
    <Condition Message="Installing ConsultGuard Agent needs administrator rights.">Privileged</Condition>
${defaults.join('\n')}
    <Property Id="ARPNOMODIFY" Value="1" />
    <Property Id="ARPNOREPAIR" Value="1" />

    <Directory Id="TARGETDIR" Name="SourceDir">
      <Directory Id="ProgramFiles64Folder">
        <Directory Id="INSTALLDIR" Name="ConsultGuard">
${tree.xml.join('\n')}
          <Component Id="c_registry" Guid="${guidFor('registry')}" Win64="yes">
            <RegistryValue Root="HKLM" Key="Software\\ConsultGuard\\Agent" Name="InstallDir" Type="string" Value="[INSTALLDIR]" KeyPath="yes" />
            <RegistryValue Root="HKLM" Key="Software\\ConsultGuard\\Agent" Name="Version" Type="string" Value="${input.version}" />
          </Component>
          <Component Id="c_url_scheme" Guid="${guidFor('url-scheme')}" Win64="yes">
            <RegistryValue Root="HKLM" Key="Software\\Classes\\${URL_SCHEME}" Type="string" Value="URL:ConsultGuard nudge" KeyPath="yes" />
            <RegistryValue Root="HKLM" Key="Software\\Classes\\${URL_SCHEME}" Name="URL Protocol" Type="string" Value="" />
            <RegistryValue Root="HKLM" Key="Software\\Classes\\${URL_SCHEME}\\DefaultIcon" Type="string" Value="[INSTALLDIR]${SERVICE_EXE},0" />
            <RegistryValue Root="HKLM" Key="Software\\Classes\\${URL_SCHEME}\\shell\\open\\command" Type="string" Value="${q}[INSTALLDIR]${SERVICE_EXE}${q} open-url ${q}%1${q}" />
            <RegistryValue Root="HKLM" Key="Software\\Classes\\AppUserModelId\\${AUMID}" Name="DisplayName" Type="string" Value="ConsultGuard" />
          </Component>
        </Directory>
      </Directory>
      <Directory Id="ProgramMenuFolder">
        <Component Id="c_shortcut" Guid="${guidFor('start-menu-shortcut')}" Win64="yes">
          <Shortcut Id="${SHORTCUT_ID}" Name="ConsultGuard" Description="About the ConsultGuard agent on this PC" Target="[INSTALLDIR]${SERVICE_EXE}" Arguments="about" WorkingDirectory="INSTALLDIR" />
          <RegistryValue Root="HKLM" Key="Software\\ConsultGuard\\Agent" Name="StartMenuShortcut" Type="integer" Value="1" KeyPath="yes" />
        </Component>
      </Directory>
    </Directory>

    <Feature Id="Agent" Title="ConsultGuard Agent" Level="1">
${[...tree.components, 'c_registry', 'c_url_scheme', 'c_shortcut'].map((c) => `      <ComponentRef Id="${c}" />`).join('\n')}
    </Feature>

    <!-- Deferred and not impersonated: these run as SYSTEM. WriteConfig after the files are in
         place and before the service starts; the removal ones after the service stopped and
         before RemoveFiles deletes the exe they run from. -->
    <CustomAction Id="WriteConfig" FileKey="ServiceExe" ExeCommand="write-config --server-url ${q}[SERVER_URL]${q} --enroll-secret ${q}[ENROLL_SECRET]${q} --site ${q}[SITE]${q}" Execute="deferred" Impersonate="no" Return="check" />
    <CustomAction Id="SecureDirs" FileKey="ServiceExe" ExeCommand="secure-dirs" Execute="deferred" Impersonate="no" Return="check" />
    <CustomAction Id="ConfigureService" FileKey="ServiceExe" ExeCommand="configure-service" Execute="deferred" Impersonate="no" Return="ignore" />
    <CustomAction Id="StopHelpers" FileKey="ServiceExe" ExeCommand="stop-helpers" Execute="deferred" Impersonate="no" Return="ignore" />
    <CustomAction Id="PurgeData" FileKey="ServiceExe" ExeCommand="purge" Execute="deferred" Impersonate="no" Return="ignore" />
    <CustomAction Id="SetCleanDir" Property="${CLEAN_DIR_PROPERTY}" Value="[CommonAppDataFolder]ConsultGuard\\" />
    <InstallExecuteSequence>
      <RemoveExistingProducts Sequence="1410" />
      <Custom Action="SetCleanDir" Sequence="1420">${cond}</Custom>
      <Custom Action="StopHelpers" Sequence="3480">REMOVE~="ALL"</Custom>
      <Custom Action="PurgeData" Sequence="3490">${cond}</Custom>
      <Custom Action="SecureDirs" Sequence="5840">NOT REMOVE~="ALL"</Custom>
      <Custom Action="WriteConfig" Sequence="5850">NOT REMOVE~="ALL" AND (SERVER_URL OR ENROLL_SECRET OR SITE)</Custom>
      <Custom Action="ConfigureService" Sequence="5860">NOT REMOVE~="ALL"</Custom>
    </InstallExecuteSequence>
  </Product>
</Wix>
`;
}
