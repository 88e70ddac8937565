/**
 * `consultguard-agent exception --app zoom --reason patient-cannot-use [--minutes N]`: the
 * clinician's own claim, "I need this app for this consult", for desktops whose nudges
 * carry no buttons (macOS without alerter, Windows, GNOME without notification actions).
 * Run as the clinician: it proves itself with this user's nudge key (agent/nudge/claims.ts).
 * `--list` prints the policy's reasons (from the agent's transparency file).
 */
import { userInfo } from 'node:os';
import { AppError } from '../../shared/errors.js';
import { claimPath, sendClaim } from '../nudge/claims.js';
import { helperNudgeRoots, readKey, userPaths } from '../nudge/rendezvous.js';
import { currentWindowsUser, windowsUserPaths } from '../nudge/windows.js';
import { readSees } from '../privacy/sees-file.js';

export interface ExceptionArgs {
  app?: string;
  reason?: string;
  minutes?: string;
  dir?: string;
  list?: boolean;
}

function keyIn(root: string): { key: Buffer; user: string } | null {
  if (process.platform === 'win32') {
    const user = currentWindowsUser(process.env, userInfo().username);
    const key = readKey(windowsUserPaths(root, user).keyFile, null);
    return key ? { key, user } : null;
  }
  const uid = process.getuid!();
  const key = readKey(userPaths(root, uid).keyFile, uid);
  return key ? { key, user: userInfo().username } : null;
}

export async function runException(args: ExceptionArgs, out: NodeJS.WritableStream): Promise<number> {
  const roots = helperNudgeRoots(args.dir);
  if (args.list) {
    const sees = roots.map(readSees).find((s) => s !== null);
    const lines = sees?.find((s) => s.heading === 'Exceptions')?.lines ?? ['no reasons known yet: the agent writes them once it has its policy'];
    out.write(`${lines.join('\n')}\n`);
    return 0;
  }
  if (!args.app) throw new AppError('bad_option', '--app: which app you need, e.g. --app zoom (see consultguard-agent status)');
  if (!args.reason) throw new AppError('bad_option', '--reason: why, one of the policy\'s reasons (consultguard-agent exception --list)');
  const minutes = args.minutes === undefined ? 24 * 60 : Number(args.minutes);
  if (!Number.isInteger(minutes) || minutes < 1) throw new AppError('bad_option', `--minutes: expected a whole number of minutes, got "${args.minutes}"`);
  for (const root of roots) {
    const found = keyIn(root);
    if (!found) continue;
    // Asking for more than the policy allows is cut to its maximum by the agent.
    const reply = await sendClaim(claimPath(root), found.key, { user: found.user, app: args.app, reason: args.reason, minutes: Math.min(minutes, 24 * 60) }).catch((err: Error) => {
      throw new AppError('bad_request', err.message);
    });
    if (reply.type === 'error') throw new AppError(reply.code === 'unauthorized' ? 'unauthorized' : 'bad_request', reply.message);
    out.write(`Exception open for ${reply.app} until ${reply.until} (${reply.minutes} min): ${reply.reason}. No reminders meanwhile; your lead sees the reason.\n`);
    return 0;
  }
  throw new AppError('bad_request', `no nudge key for this user under ${roots.join(' or ')}: the agent prepares it at this user's first nudge; if the agent uses --nudge-dir, pass the same --dir`);
}
