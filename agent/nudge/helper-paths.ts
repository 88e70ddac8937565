/**
 * The nudge helper's own per-user files (it runs as the user, so they live in the user's
 * profile, never in the service's folders):
 *
 *   log       Windows %LOCALAPPDATA%\ConsultGuard\logs\nudge-helper.N.log
 *             macOS   ~/Library/Logs/ConsultGuard/nudge-helper.N.log
 *             Linux   $XDG_STATE_HOME/consultguard/nudge-helper.N.log (~/.local/state)
 *   state     Windows %LOCALAPPDATA%\ConsultGuard\nudge (pending toasts, recorded clicks and claims,
 *             sees\ with the "What ConsultGuard sees" page the toast opens)
 *
 * Before this the helper logged to stderr only, which goes nowhere when the service
 * (Windows), launchd (macOS) or a desktop autostart starts it.
 */
import { homedir } from 'node:os';
import { posix, win32 } from 'node:path';

export function helperLogFile(platform: NodeJS.Platform = process.platform, env: NodeJS.ProcessEnv = process.env, home: string = homedir()): string {
  if (platform === 'win32') return win32.join(env.LOCALAPPDATA ?? win32.join(home, 'AppData', 'Local'), 'ConsultGuard', 'logs', 'nudge-helper');
  if (platform === 'darwin') return posix.join(home, 'Library', 'Logs', 'ConsultGuard', 'nudge-helper');
  return posix.join(env.XDG_STATE_HOME || posix.join(home, '.local', 'state'), 'consultguard', 'nudge-helper');
}

/** Windows only: where the helper and the consultguard: URL handler meet (url-handler.ts). */
export function helperStateDir(env: NodeJS.ProcessEnv = process.env, home: string = homedir()): string {
  return win32.join(env.LOCALAPPDATA ?? win32.join(home, 'AppData', 'Local'), 'ConsultGuard', 'nudge');
}
