/**
 * The OS tools the agent and helper run, by absolute path. The agent runs as root/SYSTEM:
 * a bare name would be looked up on whatever PATH the service inherited (and on Windows
 * in the current folder first), so a planted `taskkill.exe` or `id` would run with the
 * agent's privileges. These tools ship with the OS at fixed places:
 *
 * - Windows: %SystemRoot%\System32 (SystemRoot from the service's own environment,
 *   C:\Windows if unset): taskkill, icacls, WindowsPowerShell\v1.0\powershell.exe;
 *   explorer.exe in %SystemRoot%.
 * - macOS: /bin/ps, /usr/bin/id, /usr/bin/osascript, /usr/bin/open.
 * - Linux: /usr/bin/id (or /bin/id on a system without the merged /usr); signals go
 *   through process.kill, no tool at all.
 *
 * Tools that are not part of the OS (notify-send, xdg-open, gtk-launch, alerter) are only
 * run by the helper, as the logged-in user, from that user's own PATH: no privilege
 * crosses there.
 */
import { existsSync } from 'node:fs';
import { win32 } from 'node:path';

export type SystemTool = 'taskkill' | 'icacls' | 'powershell' | 'explorer' | 'ps' | 'id' | 'osascript' | 'open';

export function systemTool(tool: SystemTool, platform: NodeJS.Platform = process.platform, env: NodeJS.ProcessEnv = process.env, exists: (p: string) => boolean = existsSync): string {
  if (platform === 'win32') {
    const root = env.SystemRoot || env.windir || 'C:\\Windows';
    const system32 = win32.join(root, 'System32');
    switch (tool) {
      case 'taskkill': return win32.join(system32, 'taskkill.exe');
      case 'icacls': return win32.join(system32, 'icacls.exe');
      case 'powershell': return win32.join(system32, 'WindowsPowerShell', 'v1.0', 'powershell.exe');
      case 'explorer': return win32.join(root, 'explorer.exe');
      default: throw new Error(`${tool} is not a Windows tool`);
    }
  }
  switch (tool) {
    case 'ps': return '/bin/ps';
    case 'id': return platform === 'darwin' || exists('/usr/bin/id') ? '/usr/bin/id' : '/bin/id';
    case 'osascript': return '/usr/bin/osascript';
    case 'open': return '/usr/bin/open';
    default: throw new Error(`${tool} is a Windows tool, not one of ${platform}`);
  }
}
