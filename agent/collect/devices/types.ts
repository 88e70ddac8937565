/**
 * Capture-device probes: who has a camera or microphone open right now. Only "in use" is
 * ever read, never audio or video. Each OS plugs its own probe in:
 *
 * - Linux: /proc/PID/fd links to /dev/video* and ALSA capture nodes, plus the PipeWire or
 *   PulseAudio session of the user whose sound server holds a node (linux.ts).
 * - macOS: the per-user helper in the clinician's session asks AVFoundation and Core Audio
 *   (darwin-capture.ts) and answers the agent over the helper IPC (session.ts); macOS says
 *   "in use" per device, not by which process, so those entries carry no pid.
 * - Windows: the nudge helper in each signed-in user's session runs consultguard-devices.exe
 *   (Core Audio capture sessions, IMFSensorActivityMonitor, the ConsentStore as fallback;
 *   win32.ts) and answers the agent over the named-pipe rendezvous (win-helper.ts).
 *   A probe that names processes sets `attribution: 'process'` (capability `yes`), one that
 *   only knows devices `'device'`.
 */
import type { DeviceUse, ProcessInfo } from '../../../shared/snapshot.js';

export interface DeviceProbe {
  /** Shown in logs and in the capabilities ("proc-fd", "macos-helper", "win-native"...). */
  readonly name: string;
  /**
   * Capture devices in use at this moment. `null` means "not known right now" (no helper
   * answered, the source is missing), which the snapshot records by leaving `devices` out;
   * `[]` means "known: none in use". `processes` is this poll's process list, for probes
   * that only look at the processes that could matter.
   */
  collect(processes: readonly ProcessInfo[], wanted?: (name: string) => boolean): Promise<DeviceUse[] | null>;
  /** Whether the probe can name the process (pid/path/package) or only the device kind. */
  readonly attribution: 'process' | 'device';
}
