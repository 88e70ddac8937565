/**
 * macOS: capture devices come from the nudge helper in the clinician's session (the agent
 * is a LaunchDaemon and cannot ask AVFoundation or Core Audio about a user's session).
 * The user asked is the one on the console (the owner of /dev/console), through the same
 * private folder, key and proof as nudges (agent/nudge/rendezvous.ts). No helper, no
 * console user, or a helper that cannot tell: `null`, i.e. devices "not known" this poll.
 */
import { statSync } from 'node:fs';
import { askHelperDevices } from '../../nudge/ipc-devices.js';
import { checkHelperSocket, prepareUserDir, userPaths, readKey } from '../../nudge/rendezvous.js';
import type { DeviceUse } from '../../../shared/snapshot.js';
import type { DeviceProbe } from './types.js';

export interface HelperProbeOptions {
  /** The nudge rendezvous root the agent uses. */
  root: string;
  /**
   * true (the agent): make the user's folder and key if missing, as before a first nudge, so
   * the helper can start listening; false (`scan --live`): use them only if they exist.
   */
  prepare: boolean;
  /** Who is at the screen; default: the owner of /dev/console (root at the login window). */
  consoleUid?: () => number | null;
  timeoutMs?: number;
  onError?: (what: string, err: unknown) => void;
}

function consoleOwner(): number | null {
  try {
    const uid = statSync('/dev/console').uid;
    return uid === 0 ? null : uid;
  } catch {
    return null;
  }
}

export function createHelperDeviceProbe(opts: HelperProbeOptions): DeviceProbe & { lastAnswered: () => boolean } {
  let answered = false;
  return {
    name: 'macos-helper',
    attribution: 'device',
    lastAnswered: () => answered,
    async collect(): Promise<DeviceUse[] | null> {
      // `answered` keeps the last outcome (outside consult hours nothing is asked): it says
      // what this machine could see the last time it looked.
      const uid = (opts.consoleUid ?? consoleOwner)();
      if (uid === null) return null;
      try {
        const self = process.geteuid?.() ?? -1;
        let key: Buffer | null;
        const paths = userPaths(opts.root, uid);
        if (opts.prepare && (self === 0 || self === uid)) key = prepareUserDir(opts.root, { uid, gid: -1 }, self === 0).key;
        else key = readKey(paths.keyFile, uid);
        if (!key || !checkHelperSocket(paths, uid)) return (answered = false), null;
        // The helper's osascript may take up to 5 s: a little more before giving up on it.
        const answer = await askHelperDevices(paths.socketFile, key, opts.timeoutMs ?? 6000);
        answered = answer.devices !== null;
        if (answer.devices === null && answer.detail) opts.onError?.('the helper cannot tell capture devices', answer.detail);
        return answer.devices;
      } catch (err) {
        opts.onError?.('asking the helper for capture devices', err);
        answered = false;
        return null;
      }
    },
  };
}
