/**
 * `consultguard-agent nudge-helper`: runs in each user's desktop session (started at login
 * by the installer's Run key / LaunchAgent / XDG autostart entry) because the agent is a
 * system service and cannot show anything on a user's desktop. It waits for the agent to
 * prepare this user's private folder and key, listens there, and shows each nudge the
 * agent sends with the OS's own notifications.
 */
import { userInfo } from 'node:os';
import { AppError } from '../../shared/errors.js';
import { createDarwinCaptureProbe } from '../collect/devices/darwin-capture.js';
import { createWindowsCaptureProbe } from '../collect/devices/win32.js';
import type { Logger } from '../../shared/log.js';
import { NUDGE_DIR_ENV } from '../../shared/paths.js';
import { startHelperServer, type HelperServer } from '../nudge/ipc-server.js';
import { notifierFor } from '../nudge/notify/index.js';
import { createPresenter } from '../nudge/present.js';
import { helperDirState, helperNudgeRoots, readKey, userPaths } from '../nudge/rendezvous.js';
import { currentWindowsUser, windowsUserPaths } from '../nudge/windows.js';

export interface NudgeHelperArgs {
  dir?: string;
}

const POLL_MS = 2000;

type Rendezvous = { path: string; readKey: () => Buffer | null };

/** This user's place under one root, if the agent has prepared it (throws if it is not this user's). */
function readyIn(root: string): Rendezvous | null {
  if (process.platform === 'win32') {
    const paths = windowsUserPaths(root, currentWindowsUser(process.env, userInfo().username));
    return readKey(paths.keyFile, null) ? { path: paths.pipe, readKey: () => readKey(paths.keyFile, null) } : null;
  }
  const uid = process.getuid!();
  const paths = userPaths(root, uid);
  let state: ReturnType<typeof helperDirState>;
  try {
    state = helperDirState(paths, uid);
  } catch (err) {
    // A folder above it that this user may not pass through: not prepared for us (yet).
    if ((err as NodeJS.ErrnoException).code === 'EACCES') return null;
    throw err;
  }
  if (state.state === 'bad') throw new AppError('bad_config', state.problem);
  return state.state === 'ready' ? { path: paths.socketFile, readKey: () => readKey(paths.keyFile, uid) } : null;
}

/** The text of the one "waiting" line: which folders, and how to point both sides elsewhere. */
export function waitingMessage(roots: string[], named: boolean): string {
  const where = roots.map((r) => `"${r}"`).join(' and ');
  const how = named
    ? `the agent must use the same folder (--nudge-dir or ${NUDGE_DIR_ENV} on the agent)`
    : `an agent started with --nudge-dir DIR (or ${NUDGE_DIR_ENV}) needs this helper started with --dir DIR (or the same ${NUDGE_DIR_ENV})`;
  return `waiting for the ConsultGuard agent to prepare this user's nudge folder (it does so before its first nudge); watching ${where}; ${how}`;
}

/** Where to listen and how to read the key, once the agent has prepared them under one of `roots`. */
async function waitForRendezvous(roots: string[], named: boolean, log: Logger, stopping: () => boolean): Promise<Rendezvous | null> {
  let told = false;
  for (;;) {
    if (stopping()) return null;
    for (const root of roots) {
      const ready = readyIn(root);
      if (ready) return ready;
    }
    if (!told) log.info({ roots }, waitingMessage(roots, named));
    told = true;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

export async function runNudgeHelper(args: NudgeHelperArgs, log: Logger, untilStop: Promise<unknown>): Promise<void> {
  const roots = helperNudgeRoots(args.dir);
  const named = args.dir !== undefined || Boolean(process.env[NUDGE_DIR_ENV]);
  let stop = false;
  void untilStop.then(() => (stop = true));
  const where = await waitForRendezvous(roots, named, log, () => stop);
  if (!where) return;
  const present = createPresenter({ platform: process.platform, notifier: notifierFor(process.platform), log });
  // The agent asks this helper which capture devices are in use, because only the user's
  // session can: macOS through AVFoundation and Core Audio (osascript), Windows through the
  // installed consultguard-devices.exe run as this user (Core Audio capture sessions,
  // IMFSensorActivityMonitor, the ConsentStore as fallback). Linux needs no helper for it
  // (the agent reads /proc).
  const devices = process.platform === 'darwin' ? createDarwinCaptureProbe() : process.platform === 'win32' ? createWindowsCaptureProbe() : undefined;
  const server: HelperServer = await startHelperServer({ path: where.path, readKey: where.readKey, show: present, log, ...(devices ? { devices } : {}) });
  log.info({ path: where.path }, 'nudge helper listening');
  await untilStop;
  await server.close();
}
