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
import type { Logger } from '../../shared/log.js';
import { startHelperServer, type HelperServer } from '../nudge/ipc-server.js';
import { notifierFor } from '../nudge/notify/index.js';
import { createPresenter } from '../nudge/present.js';
import { helperDirState, readKey, serviceNudgeRoot, userPaths } from '../nudge/rendezvous.js';
import { currentWindowsUser, windowsUserPaths } from '../nudge/windows.js';

export interface NudgeHelperArgs {
  dir?: string;
}

const POLL_MS = 2000;

/** Where to listen and how to read the key, once the agent has prepared them. */
async function waitForRendezvous(root: string, log: Logger, stopping: () => boolean): Promise<{ path: string; readKey: () => Buffer | null } | null> {
  let told = false;
  for (;;) {
    if (stopping()) return null;
    if (process.platform === 'win32') {
      const paths = windowsUserPaths(root, currentWindowsUser(process.env, userInfo().username));
      if (readKey(paths.keyFile, null)) return { path: paths.pipe, readKey: () => readKey(paths.keyFile, null) };
    } else {
      const uid = process.getuid!();
      const paths = userPaths(root, uid);
      const state = helperDirState(paths, uid);
      if (state.state === 'bad') throw new AppError('bad_config', state.problem);
      if (state.state === 'ready') return { path: paths.socketFile, readKey: () => readKey(paths.keyFile, uid) };
    }
    if (!told) log.info({ root }, 'waiting for the ConsultGuard agent to prepare this user\'s nudge folder (it does so before its first nudge)');
    told = true;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

export async function runNudgeHelper(args: NudgeHelperArgs, log: Logger, untilStop: Promise<unknown>): Promise<void> {
  const root = args.dir ?? process.env.CONSULTGUARD_NUDGE_DIR ?? serviceNudgeRoot();
  let stop = false;
  void untilStop.then(() => (stop = true));
  const where = await waitForRendezvous(root, log, () => stop);
  if (!where) return;
  const present = createPresenter({ platform: process.platform, notifier: notifierFor(process.platform), log });
  // macOS: the agent asks this helper which capture devices are in use (only the user's
  // session can ask AVFoundation and Core Audio). Linux needs no helper for it (the agent
  // reads /proc); Windows' probe belongs to the Windows collector.
  const devices = process.platform === 'darwin' ? createDarwinCaptureProbe() : undefined;
  const server: HelperServer = await startHelperServer({ path: where.path, readKey: where.readKey, show: present, log, ...(devices ? { devices } : {}) });
  log.info({ path: where.path }, 'nudge helper listening');
  await untilStop;
  await server.close();
}
