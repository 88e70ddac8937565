/**
 * How the helper opens the approved app (or the "why" page) in the user's session: its URL
 * in the default browser, or `approved.open.<os>` when the policy names a launch target.
 */
import { spawn } from 'node:child_process';
import { systemTool } from '../system-tools.js';

export interface Launch {
  cmd: string;
  args: string[];
}

export function openCommand(platform: NodeJS.Platform, url: string, target?: string): Launch {
  if (platform === 'win32') {
    if (!target) return { cmd: systemTool('explorer', platform), args: [url] };
    // An AppUserModelID ("Publisher.App_hash!App") opens through the shell's app folder.
    if (target.includes('!')) return { cmd: systemTool('explorer', platform), args: [`shell:AppsFolder\\${target}`] };
    return { cmd: target, args: [] };
  }
  if (platform === 'darwin') {
    if (!target) return { cmd: systemTool('open', platform), args: [url] };
    // A bundle id (com.vendor.App) or an application name ("Healthdirect Video Call").
    return /^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$/.test(target) ? { cmd: systemTool('open', platform), args: ['-b', target] } : { cmd: systemTool('open', platform), args: ['-a', target] };
  }
  if (!target) return { cmd: 'xdg-open', args: [url] };
  if (target.endsWith('.desktop')) return { cmd: 'gtk-launch', args: [target.slice(0, -'.desktop'.length)] };
  // A command line, split on spaces, never given to a shell.
  const [cmd, ...args] = target.trim().split(/\s+/);
  return { cmd: cmd!, args };
}

/** Starts the launch detached; resolves once it started (or with the reason it could not). */
export function launch(l: Launch): Promise<string | null> {
  return new Promise((resolve) => {
    const child = spawn(l.cmd, l.args, { stdio: 'ignore', detached: true, windowsHide: true });
    child.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ENOENT' ? `${l.cmd} is not installed` : err.message));
    child.once('spawn', () => {
      child.unref();
      resolve(null);
    });
  });
}
