/**
 * macOS capture devices, asked from the clinician's session by the nudge helper (the
 * LaunchAgent): only code in the user's session sees the session's devices. The question
 * is a JXA script run by `/usr/bin/osascript -l JavaScript`, through the ObjC bridge:
 *
 * - cameras: AVFoundation's `AVCaptureDevice.isInUseByAnotherApplication` per video device;
 *   macOS says "in use", not by whom, so a camera entry carries no pid and the matcher
 *   attributes it through which consumer app is running or in a call;
 * - microphones by process (macOS 14.2+): Core Audio's process objects
 *   (`kAudioHardwarePropertyProcessObjectList`), each with `kAudioProcessPropertyPID` and
 *   `kAudioProcessPropertyIsRunningInput`, read in that order (reading `piri` before the
 *   pid crashed Core Audio on some releases, as other projects found);
 * - microphones, older macOS: `kAudioDevicePropertyDeviceIsRunningSomewhere` per input
 *   device, without a pid. It is also true when a headset that is one device for both
 *   directions only plays sound, so it is used only where the per-process answer is missing.
 *
 * Nothing is opened: no stream is started and no audio or video is read; listing devices
 * and reading "in use" is not expected to raise a camera or microphone permission prompt
 * (only opening a capture session does), which is unverified here. Written to the
 * documented APIs; it cannot run on this Linux machine, so tests replay the script's
 * reports through the parser and run its JavaScript against a stand-in of the bridge.
 */
import { execFile } from 'node:child_process';
import type { DeviceUse } from '../../../shared/snapshot.js';

export const OSASCRIPT = '/usr/bin/osascript';

/** The JXA script; prints one JSON object (see `DarwinCaptureReport`). */
export const CAPTURE_SCRIPT = String.raw`
ObjC.import('Foundation');
ObjC.import('AVFoundation');
ObjC.import('CoreAudio');
function fourcc(s) { return ((s.charCodeAt(0) << 24) | (s.charCodeAt(1) << 16) | (s.charCodeAt(2) << 8) | s.charCodeAt(3)) >>> 0; }
// JXA's JavaScriptCore has no atob/btoa: bytes cross the bridge as base64 through NSData.
var B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
function toBase64(bytes) {
  var out = '';
  for (var i = 0; i < bytes.length; i += 3) {
    var n = (bytes[i] << 16) | ((bytes[i + 1] || 0) << 8) | (bytes[i + 2] || 0);
    out += B64[(n >>> 18) & 63] + B64[(n >>> 12) & 63] + (i + 1 < bytes.length ? B64[(n >>> 6) & 63] : '=') + (i + 2 < bytes.length ? B64[n & 63] : '=');
  }
  return out;
}
function fromBase64(text) {
  var bytes = [], bits = 0, value = 0;
  for (var i = 0; i < text.length; i++) {
    var c = B64.indexOf(text.charAt(i));
    if (c < 0) continue;
    value = (value << 6) | c; bits += 6;
    if (bits >= 8) { bits -= 8; bytes.push((value >>> bits) & 255); }
  }
  return bytes;
}
function u32le(values) {
  var bytes = [];
  values.forEach(function (v) { for (var i = 0; i < 4; i++) bytes.push((v >>> (8 * i)) & 255); });
  return $.NSMutableData.alloc.initWithBase64EncodedStringOptions($(toBase64(bytes)), 0);
}
function readU32(data, count) {
  var b = fromBase64(data.base64EncodedStringWithOptions(0).js), out = [];
  for (var i = 0; i < count && 4 * i + 3 < b.length; i++) out.push((b[4*i] | (b[4*i+1] << 8) | (b[4*i+2] << 16) | (b[4*i+3] << 24)) >>> 0);
  return out;
}
ObjC.bindFunction('AudioObjectGetPropertyDataSize', ['int', ['unsigned int', 'void *', 'unsigned int', 'void *', 'void *']]);
ObjC.bindFunction('AudioObjectGetPropertyData', ['int', ['unsigned int', 'void *', 'unsigned int', 'void *', 'void *', 'void *']]);
var GLOB = fourcc('glob'), INPT = fourcc('inpt');
function getU32s(object, selector, scope) {
  var addr = u32le([fourcc(selector), scope, 0]), size = u32le([0]);
  if ($.AudioObjectGetPropertyDataSize(object, addr.mutableBytes, 0, null, size.mutableBytes) !== 0) return null;
  var n = readU32(size, 1)[0];
  if (n === 0) return [];
  var data = $.NSMutableData.dataWithLength(n);
  if ($.AudioObjectGetPropertyData(object, addr.mutableBytes, 0, null, size.mutableBytes, data.mutableBytes) !== 0) return null;
  return readU32(data, Math.floor(readU32(size, 1)[0] / 4));
}
function run() {
  var report = { v: 1, cameras: [], inputDevices: [], inputProcesses: null, errors: [] };
  try {
    var cams = $.AVCaptureDevice.devicesWithMediaType($.AVMediaTypeVideo);
    for (var i = 0; i < cams.count; i++) {
      var d = cams.objectAtIndex(i);
      report.cameras.push({ name: d.localizedName.js, inUse: !!d.isInUseByAnotherApplication });
    }
  } catch (e) { report.errors.push('cameras: ' + e); }
  try {
    var devices = getU32s(1, 'dev#', GLOB) || [];
    devices.forEach(function (id) {
      var streams = getU32s(id, 'stm#', INPT);
      if (!streams || streams.length === 0) return;
      var running = getU32s(id, 'gone', GLOB);
      report.inputDevices.push({ id: id, running: !!(running && running[0]) });
    });
  } catch (e) { report.errors.push('input devices: ' + e); }
  try {
    var procs = getU32s(1, 'prs#', GLOB);
    if (procs !== null) {
      report.inputProcesses = [];
      procs.forEach(function (obj) {
        var pid = getU32s(obj, 'ppid', GLOB);
        var input = getU32s(obj, 'piri', GLOB);
        if (pid && input && input[0]) report.inputProcesses.push({ pid: pid[0] | 0 });
      });
    }
  } catch (e) { report.errors.push('audio processes: ' + e); report.inputProcesses = null; }
  return JSON.stringify(report);
}
`;

export const OSASCRIPT_ARGS = ['-l', 'JavaScript', '-e', CAPTURE_SCRIPT];

export interface DarwinCaptureReport {
  v: 1;
  cameras: Array<{ name: string; inUse: boolean }>;
  inputDevices: Array<{ id: number; running: boolean }>;
  /** null: Core Audio has no process objects (before macOS 14.2) or refused them. */
  inputProcesses: Array<{ pid: number }> | null;
  errors: string[];
}

/**
 * The script's output -> devices in use. null when the script could tell nothing at all
 * (every part failed): "not known", which is not "none in use".
 */
export function parseDarwinCapture(stdout: string): { devices: DeviceUse[] | null; errors: string[] } {
  const r = JSON.parse(stdout.trim()) as Partial<DarwinCaptureReport>;
  if (r.v !== 1 || !Array.isArray(r.cameras) || !Array.isArray(r.inputDevices)) throw new Error('the capture script printed something that is not its v1 report');
  const errors = Array.isArray(r.errors) ? r.errors.map(String) : [];
  const cameraKnown = !errors.some((e) => e.startsWith('cameras:'));
  const micKnown = Array.isArray(r.inputProcesses) || !errors.some((e) => e.startsWith('input devices:'));
  if (!cameraKnown && !micKnown) return { devices: null, errors };
  const devices: DeviceUse[] = [];
  if (r.cameras.some((c) => c.inUse === true)) devices.push({ kind: 'camera' });
  if (Array.isArray(r.inputProcesses)) {
    const pids = new Set(r.inputProcesses.map((p) => p.pid).filter((p) => Number.isInteger(p) && p > 0));
    for (const pid of pids) devices.push({ kind: 'microphone', pid });
  } else if (r.inputDevices.some((d) => d.running === true)) {
    devices.push({ kind: 'microphone' });
  }
  return { devices, errors };
}

export type ScriptRunner = (file: string, args: string[]) => Promise<string>;

const runScript: ScriptRunner = (file, args) =>
  new Promise((resolve, reject) => {
    execFile(file, args, { timeout: 5000, maxBuffer: 1024 * 1024, killSignal: 'SIGKILL', env: { LANG: 'C', PATH: '/usr/bin:/bin' } }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
  });

/**
 * The helper's answer to a `devices` query on macOS. One osascript run costs a Mac some
 * tens of milliseconds of CPU (not measured here), so an answer younger than `maxAgeMs` is
 * reused: the agent asks once per poll, but two agents' polls or a `scan --live` do not double it.
 */
export function createDarwinCaptureProbe(run: ScriptRunner = runScript, maxAgeMs = 2000, now: () => number = Date.now) {
  let last: { at: number; answer: { devices: DeviceUse[] | null; detail?: string } } | null = null;
  return async function devices(): Promise<{ devices: DeviceUse[] | null; detail?: string }> {
    if (last && now() - last.at < maxAgeMs) return last.answer;
    let answer: { devices: DeviceUse[] | null; detail?: string };
    try {
      const parsed = parseDarwinCapture(await run(OSASCRIPT, OSASCRIPT_ARGS));
      answer = { devices: parsed.devices, ...(parsed.errors.length ? { detail: parsed.errors.join('; ').slice(0, 512) } : {}) };
    } catch (err) {
      answer = { devices: null, detail: `the capture script failed: ${err instanceof Error ? err.message : String(err)}`.slice(0, 512) };
    }
    last = { at: now(), answer };
    return answer;
  };
}
