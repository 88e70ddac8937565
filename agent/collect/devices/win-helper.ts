/**
 * Windows: capture devices come from the nudge helper in each signed-in user's session (the
 * agent is the SYSTEM service: Core Audio capture sessions and the ConsentStore are per
 * user, and IMFSensorActivityMonitor is asked from the user's desktop). The helper runs the
 * installed consultguard-devices.exe as that user and answers over the Windows rendezvous
 * (named pipe + key folder, agent/nudge/windows.ts), with the same key proof as nudges.
 *
 * Which users: the owners of explorer.exe and of the running helpers (sessionUsers; the
 * native collector names every process's owner). On a clinic PC that is the console user;
 * with fast user switching or RDP each signed-in user's helper is asked and the answers are
 * merged (a camera held in any session of this PC is evidence of a call from it). Under the
 * fallback collector (no owners for non-catalog processes) no user is known: devices stay
 * "not known". macOS has its own (session.ts); Linux reads /proc itself (linux.ts).
 */
import { askHelperDevices } from '../../nudge/ipc-devices.js';
import { readKey } from '../../nudge/rendezvous.js';
import { prepareWindowsUserDir, windowsUserPaths } from '../../nudge/windows.js';
import type { DeviceUse, ProcessInfo } from '../../../shared/snapshot.js';
import type { DeviceProbe } from './types.js';
import { FALLBACK_MARK } from './win32.js';

/** Where a user's helper listens and the key it must prove, or null when not prepared. */
export type LocateHelper = (user: string) => { path: string; key: Buffer } | null;

export interface WindowsHelperProbeOptions {
  /** The nudge rendezvous root the agent uses. */
  root: string;
  /** true (the agent): make the user's folder and key if missing, as before a first nudge; false (`scan --live`): use them only if there. */
  prepare: boolean;
  /** Tests: where each user's helper is (default: the named pipe and key folder of nudge/windows.ts). */
  locate?: LocateHelper;
  /** Tests: the node.exe the helpers run (default: this agent's own). */
  ownExe?: string;
  timeoutMs?: number;
  onError?: (what: string, err: unknown) => void;
}

/** Service and system accounts own no desktop session a clinician sits at. */
const SYSTEM_ACCOUNT = /^(nt authority|nt service|font driver host|window manager)\\|\$$/i;

/**
 * The accounts signed in interactively, once each (case-insensitive): owners of explorer.exe
 * (the shell of every session) and of the nudge helpers, i.e. processes running this
 * agent's own node.exe other than the agent itself (the service starts one helper per
 * session as that session's user; wine runs no explorer.exe, so this is what CI sees).
 */
export function sessionUsers(processes: readonly ProcessInfo[], ownExe: string = process.execPath, selfPid: number = process.pid): string[] {
  const users = new Map<string, string>();
  const exe = ownExe.toLowerCase();
  for (const p of processes) {
    const shell = p.name.toLowerCase() === 'explorer.exe';
    const helper = p.pid !== selfPid && p.path !== undefined && p.path.toLowerCase() === exe;
    if (!(shell || helper) || !p.user || SYSTEM_ACCOUNT.test(p.user)) continue;
    if (!users.has(p.user.toLowerCase())) users.set(p.user.toLowerCase(), p.user);
  }
  return [...users.values()];
}

function defaultLocate(root: string, prepare: boolean): LocateHelper {
  // Making a folder runs the service host (or icacls) synchronously: once per user and agent
  // run, not once per poll; a key that went missing since is made again.
  const prepared = new Set<string>();
  return (user) => {
    const paths = windowsUserPaths(root, user);
    const key = prepared.has(user) || !prepare ? readKey(paths.keyFile, null) : null;
    if (key) return { path: paths.pipe, key };
    if (!prepare) return null;
    const made = prepareWindowsUserDir(root, user);
    prepared.add(user);
    return { path: made.pipe, key: made.key };
  };
}

export type CaptureLevel = 'yes' | 'partial' | 'no';

export function createWindowsHelperDeviceProbe(opts: WindowsHelperProbeOptions): DeviceProbe & { level: () => CaptureLevel } {
  const locate = opts.locate ?? defaultLocate(opts.root, opts.prepare);
  // The last outcome (outside consult hours nothing is asked): what this machine could see
  // the last time it looked. `yes`: Core Audio and the sensor monitor answered, by pid;
  // `partial`: a kind came from the ConsentStore fallback (by path or package, may be stale).
  let level: CaptureLevel = 'no';
  return {
    name: 'win-helper',
    attribution: 'process',
    level: () => level,
    async collect(processes): Promise<DeviceUse[] | null> {
      const answers = await Promise.all(sessionUsers(processes, opts.ownExe).map(async (user) => {
        try {
          const where = locate(user);
          if (!where) return null;
          const answer = await askHelperDevices(where.path, where.key, opts.timeoutMs ?? 6000);
          if (answer.devices === null && answer.detail) opts.onError?.(`the helper of ${user} cannot tell capture devices`, answer.detail);
          return answer;
        } catch (err) {
          opts.onError?.(`asking the helper of ${user} for capture devices`, err);
          return null;
        }
      }));
      const known = answers.filter((a): a is { devices: DeviceUse[]; detail?: string } => a !== null && a.devices !== null);
      if (known.length === 0) return (level = 'no'), null;
      level = known.some((a) => a.detail?.includes(FALLBACK_MARK)) ? 'partial' : 'yes';
      const out: DeviceUse[] = [];
      const seen = new Set<string>();
      for (const d of known.flatMap((a) => a.devices)) {
        const key = `${d.kind}:${d.pid ?? ''}:${d.path?.toLowerCase() ?? ''}:${d.package ?? ''}`;
        if (seen.has(key)) continue;
        seen.add(key);
        out.push(d);
      }
      return out;
    },
  };
}
