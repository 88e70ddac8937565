/**
 * The exact lines IT staff copy to install an agent with a site's enrolment secret
 * (installers/README.md): msiexec properties SERVER_URL, ENROLL_SECRET, SITE (Windows:
 * Intune, GPO, SCCM or a prompt); a Jamf configuration profile (macOS: plist keys serverUrl,
 * enrollSecret, site in domain com.consultguard.agent) plus the installer command; the deb
 * and its /etc/consultguard/agent.json (Linux). Pure: tested through the admin screen.
 */
export interface InstallInput {
  /** The dashboard's origin (https://guard.clinic.example:8470): agents use the same host and port. */
  origin: string;
  secret: string;
  site: string | null;
  version: string;
}

export interface InstallLines {
  serverUrl: string;
  msiexec: string;
  jamfPlist: string;
  pkg: string;
  deb: string;
}

/** http -> ws, https -> wss: the agent's WebSocket lives at /agent on the same host and port. */
export function agentServerUrl(origin: string): string {
  return origin.replace(/^http(s?):/, 'ws$1:').replace(/\/+$/, '');
}

const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
/** Single-quoted for sh: a quote inside becomes '\'' . */
const sh = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export function installLines(i: InstallInput): InstallLines {
  const serverUrl = agentServerUrl(i.origin);
  // msiexec: values may not contain double quotes (installers/README.md); secrets and site names never do.
  const q = (v: string) => (/[\s]/.test(v) ? `"${v}"` : v);
  const msiexec = `msiexec /i consultguard-agent-${i.version}-x64.msi /qn /l*v "%TEMP%\\consultguard-install.log" SERVER_URL=${q(serverUrl)} ENROLL_SECRET=${q(i.secret)}${i.site ? ` SITE=${q(i.site)}` : ''}`;
  const jamfPlist = [
    '<dict>',
    `  <key>serverUrl</key><string>${xml(serverUrl)}</string>`,
    `  <key>enrollSecret</key><string>${xml(i.secret)}</string>`,
    ...(i.site ? [`  <key>site</key><string>${xml(i.site)}</string>`] : []),
    '</dict>',
  ].join('\n');
  const pkg = `sudo installer -pkg consultguard-agent-${i.version}.pkg -target /`;
  const json = JSON.stringify({ serverUrl, enrollSecret: i.secret, ...(i.site ? { site: i.site } : {}) });
  const deb = `sudo apt install ./consultguard-agent_${i.version}_amd64.deb && printf '%s\\n' ${sh(json)} | sudo tee /etc/consultguard/agent.json >/dev/null && sudo chmod 600 /etc/consultguard/agent.json && sudo systemctl restart consultguard-agent`;
  return { serverUrl, msiexec, jamfPlist, pkg, deb };
}
