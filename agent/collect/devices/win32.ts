/**
 * Camera and microphone in use on Windows, from consultguard-devices.exe
 * (installers/windows/devices.c), which the nudge helper runs as the user in the user's
 * session (capture sessions and the consent store are per user; the SYSTEM service would
 * see neither). The helper answers the agent's IPC `devices` query with it
 * (createWindowsCaptureProbe; the agent side is win-helper.ts); this module is the probe
 * and its parser:
 *
 *   probeWindowsDevices(exe) -> DeviceUse[] | undefined   (undefined: not known, CONTRACTS 2)
 *
 * Sources, best first: Core Audio capture sessions per process (microphone, by pid);
 * IMFSensorActivityMonitor (camera, by pid; Windows 10 1703+); the CapabilityAccessManager
 * ConsentStore (LastUsedTimeStop == 0 means "in use now", by executable path or package
 * family name) only for a kind whose primary source was unavailable, because it goes stale
 * on recent builds (an entry can stay at 0 after the app stopped).
 *
 * macOS and Linux have their own probes (or none): this file is Windows only.
 */
import { execFile } from 'node:child_process';
import { win32 } from 'node:path';
import type { DeviceUse } from '../../../shared/snapshot.js';

type Kind = DeviceUse['kind'];

/** ConsentStore's NonPackaged key names are paths with '#' for '\'. */
export const consentPath = (name: string): string => name.replace(/#/g, '\\');

/** What one probe run said: the devices, and which kinds came only from the stale fallback. */
export interface WindowsDevicesReport {
  devices: DeviceUse[];
  /** Kinds whose primary API was unavailable (so their entries, if any, are ConsentStore's), with its HRESULT. */
  fallback: { kind: Kind; hr: string }[];
}

export function parseWindowsDevicesReport(text: string): WindowsDevicesReport | undefined {
  const primary: Record<Kind, boolean | undefined> = { camera: undefined, microphone: undefined };
  const fallback: WindowsDevicesReport['fallback'] = [];
  const byPid: DeviceUse[] = [];
  const consent: DeviceUse[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const f = raw.split('\t');
    if (f[0] === 'source' && (f[1] === 'camera' || f[1] === 'microphone')) {
      primary[f[1]] = f[2] === 'ok';
      if (f[2] !== 'ok') fallback.push({ kind: f[1], hr: f[3] ?? 'unknown' });
    } else if ((f[0] === 'camera' || f[0] === 'microphone') && /^\d+$/.test(f[1] ?? '')) byPid.push({ kind: f[0], pid: Number(f[1]) });
    else if (f[0] === 'consent' && f.length >= 6) {
      const kind: Kind | null = f[1] === 'webcam' ? 'camera' : f[1] === 'microphone' ? 'microphone' : null;
      const start = Number(f[4]);
      const stop = Number(f[5]);
      if (!kind || !(start > 0) || stop !== 0 || !f[3]) continue;
      if (f[2] === 'path') consent.push({ kind, path: consentPath(f[3]) });
      else if (f[2] === 'package') consent.push({ kind, package: f[3] });
    }
  }
  if (primary.camera === undefined && primary.microphone === undefined) return undefined; // not the probe's output
  const out: DeviceUse[] = [];
  const seen = new Set<string>();
  const add = (d: DeviceUse) => {
    const key = `${d.kind}:${d.pid ?? ''}:${d.path?.toLowerCase() ?? ''}:${d.package ?? ''}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(d);
    }
  };
  for (const d of byPid) if (primary[d.kind]) add(d);
  for (const d of consent) if (!primary[d.kind]) add(d);
  return { devices: out, fallback };
}

export function parseWindowsDevices(text: string): DeviceUse[] | undefined {
  return parseWindowsDevicesReport(text)?.devices;
}

/**
 * The `detail` a helper sends beside its answer when a kind came from the ConsentStore
 * fallback; the agent reads it back (FALLBACK_MARK) to report captureDevices as `partial`.
 */
export const FALLBACK_MARK = 'from the ConsentStore fallback';

export function fallbackDetail(fallback: WindowsDevicesReport['fallback']): string | undefined {
  if (fallback.length === 0) return undefined;
  const api = (k: Kind) => (k === 'camera' ? 'IMFSensorActivityMonitor' : 'Core Audio capture sessions');
  return fallback.map((f) => `${f.kind} ${FALLBACK_MARK} (${api(f.kind)} unavailable: ${f.hr}; it can go stale)`).join('; ');
}

/** The probe beside the service host (INSTALLDIR), found from the node runtime the helper runs on. */
export function installedDevicesProbe(execPath: string = process.execPath): string {
  return win32.join(win32.dirname(win32.dirname(execPath)), 'consultguard-devices.exe');
}

/** Runs the probe (at most 5 s); undefined when it cannot run or says nothing usable. */
export function probeWindowsDevices(exe: string): Promise<DeviceUse[] | undefined> {
  return runProbe(exe).then((text) => (text === undefined ? undefined : parseWindowsDevices(text)));
}

function runProbe(exe: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(exe, [], { timeout: 5000, windowsHide: true, maxBuffer: 1 << 20, encoding: 'utf8' }, (err, stdout) => {
      resolve(err ? undefined : stdout);
    });
  });
}

/**
 * The helper's answer to the agent's `devices` query on Windows (nudge-helper.ts), as the
 * user in the user's session: the installed probe's report, or "not known" with the reason.
 * One run serves the queries of `maxAgeMs` (the agent asks once per poll; a probe run costs
 * a process start and the COM set-up).
 */
export function createWindowsCaptureProbe(exe: string = installedDevicesProbe(), run: (exe: string) => Promise<string | undefined> = runProbe, maxAgeMs = 2000, now: () => number = Date.now) {
  let last: { at: number; answer: { devices: DeviceUse[] | null; detail?: string } } | null = null;
  return async function devices(): Promise<{ devices: DeviceUse[] | null; detail?: string }> {
    if (last && now() - last.at < maxAgeMs) return last.answer;
    const text = await run(exe);
    const report = text === undefined ? undefined : parseWindowsDevicesReport(text);
    let answer: { devices: DeviceUse[] | null; detail?: string };
    if (text === undefined) answer = { devices: null, detail: `${win32.basename(exe)} could not run (missing, or it failed or timed out)` };
    else if (!report) answer = { devices: null, detail: `${win32.basename(exe)} printed no report this helper can read` };
    else {
      const detail = fallbackDetail(report.fallback);
      answer = { devices: report.devices, ...(detail ? { detail } : {}) };
    }
    last = { at: now(), answer };
    return answer;
  };
}
