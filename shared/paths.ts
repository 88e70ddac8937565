import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, posix, win32 } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/**
 * The package root (where package.json and policies/ live), found by walking up from
 * this file, so the same code works from sources (tests) and from build/ (the CLIs).
 */
export function packageRoot(): string {
  if (root) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'policies'))) return (root = dir);
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the ConsultGuard package root (package.json beside policies/)');
    dir = up;
  }
}

export const builtinPoliciesDir = (): string => join(packageRoot(), 'policies');
export const builtinCatalogDir = (): string => join(packageRoot(), 'policies', 'catalog');

/**
 * The nudge rendezvous rule (README "Nudge helper"), the same for the agent and the helper,
 * and independent of the agent's --state folder:
 *
 * 1. `--nudge-dir DIR` on the agent / `--dir DIR` on the helper, or CONSULTGUARD_NUDGE_DIR
 *    for either, names the folder outright.
 * 2. Otherwise an agent running as root/SYSTEM (the installed service) uses the system
 *    folder below, and a helper always looks there.
 * 3. An agent running as an ordinary user (a developer's run; it can nudge only that user)
 *    uses that user's own folder below, and that user's helper looks there too.
 */
export const NUDGE_DIR_ENV = 'CONSULTGUARD_NUDGE_DIR';

/** Windows %ProgramData%\ConsultGuard\nudge, macOS /Library/Application Support/ConsultGuard/nudge, Linux /var/lib/consultguard/nudge. */
export function systemNudgeRoot(platform: NodeJS.Platform = process.platform, env: NodeJS.ProcessEnv = process.env): string {
  if (platform === 'win32') return win32.join(env.ProgramData ?? 'C:\\ProgramData', 'ConsultGuard', 'nudge');
  if (platform === 'darwin') return '/Library/Application Support/ConsultGuard/nudge';
  return '/var/lib/consultguard/nudge';
}

/** macOS ~/Library/Application Support/ConsultGuard/nudge, else $XDG_STATE_HOME (~/.local/state)/consultguard/nudge; null on Windows (system folder only). */
export function userNudgeRoot(platform: NodeJS.Platform = process.platform, env: NodeJS.ProcessEnv = process.env, home: string = homedir()): string | null {
  if (platform === 'win32') return null;
  if (platform === 'darwin') return posix.join(home, 'Library', 'Application Support', 'ConsultGuard', 'nudge');
  return posix.join(env.XDG_STATE_HOME || posix.join(home, '.local', 'state'), 'consultguard', 'nudge');
}
