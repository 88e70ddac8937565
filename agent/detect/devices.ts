/**
 * Cameras and microphones in use (snapshot `devices`) as call evidence. Only "in use" is
 * ever known, never what is seen or heard. The holder is named by pid where the OS tells it
 * (Linux /proc fd links and PipeWire, the macOS helper), else by executable path or Windows
 * package family name (Windows' capability access records).
 *
 * - Held by an app's process, a descendant of one, or a call daemon of it (avconferenced for
 *   FaceTime, which runs calls even with FaceTime.app closed): that app is in a call.
 * - A rule may say only the camera counts (`deviceCall: camera`): the microphone held by
 *   avconferenced is a FaceTime audio call or an iPhone phone call relayed through the Mac,
 *   and the snapshot cannot tell which, so it stays evidence only.
 * - A shared host (`role: host`, the new Teams serving work and personal accounts) holding
 *   one is never counted: the snapshot cannot tell which account is in the call.
 * - Held by a browser: that vendor's web call only when the same browser carries the
 *   vendor's call media, or runs its web client or join link. Which tab holds the camera is
 *   not visible to any OS, so a browser with the camera and only plain HTTPS to a vendor
 *   (a Facebook tab beside the approved telehealth app's consult) is nothing.
 * - Held by anything else (the approved app, work Teams, the Camera app, dictation): nothing.
 */
import type { DeviceUse, ProcessInfo } from '../../shared/snapshot.js';
import { ruleKey, type CompiledApp, type CompiledRule } from './compile.js';
import { browserOf, claim, groupOf, hitFor, note, type Scene } from './hit.js';
import { fits, normPath } from './rules.js';

/** Windows' capability store writes non-packaged holders as "C:#Program Files#Zoom#bin#Zoom.exe". */
function devicePath(path: string): string {
  return normPath(!path.includes('\\') && !path.includes('/') && path.includes('#') ? path.replaceAll('#', '/') : path);
}

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Processes named by the device record. Paths are compared only for processes whose path has
 * the same length (normalising case and separators keeps the length), so a device named by
 * path costs a length check per process, not a string copy.
 */
function holdersOf(scene: Scene, d: DeviceUse): ProcessInfo[] {
  if (d.pid !== undefined) {
    const p = scene.byPid.get(d.pid);
    if (p) return [p];
  }
  const procs = scene.snapshot.processes;
  if (d.path) {
    const want = devicePath(d.path);
    return procs.filter((p) => p.path !== undefined && p.path.length === want.length && normPath(p.path) === want);
  }
  const family = d.package?.toLowerCase();
  const cut = family?.lastIndexOf('_') ?? -1;
  if (!family || cut <= 0) return [];
  // C:\Program Files\WindowsApps\<name>_<version>_<arch>__<publisher>\...
  const re = new RegExp(`[\\\\/]windowsapps[\\\\/]${escapeRe(family.slice(0, cut))}_[^\\\\/]*__${escapeRe(family.slice(cut + 1))}[\\\\/]`, 'i');
  return procs.filter((p) => p.path !== undefined && re.test(p.path));
}

/** Counts the device for the app of `rule`, unless the rule says this kind does not tell a call. */
function countFor(scene: Scene, app: CompiledApp, rule: CompiledRule, d: DeviceUse, label: string, proc: ProcessInfo | null): boolean {
  const hit = hitFor(scene, app);
  if (rule.role === 'host' || rule.deviceCall === 'none') {
    note(hit, `${label}: not counted, the process also serves use outside ${app.name} (e.g. a work account)`);
    return false;
  }
  if (rule.deviceCall === 'camera' && d.kind === 'microphone') {
    note(hit, `${label}: not counted, the microphone alone cannot tell a ${app.name} call from other audio this process carries`);
    return false;
  }
  hit.deviceCalls++;
  hit.deviceOwn = true;
  if (proc) claim(hit, proc);
  note(hit, label, true);
  return true;
}

function attribute(scene: Scene, d: DeviceUse, proc: ProcessInfo): boolean {
  const how = d.pid === proc.pid ? '' : d.package ? `, package ${d.package}` : ', by path';
  const label = `${d.kind} in use by ${proc.name} (pid ${proc.pid}${how})`;
  const owned = scene.owner.get(proc.pid);
  if (owned) return countFor(scene, owned.app, owned.rule, d, label, proc);
  // A browser, or an unrecognised process: only beside the vendor's call media or launch.
  const group = groupOf(scene, proc);
  const media = scene.media.get(group);
  if (media?.[0]) {
    const hit = hitFor(scene, media[0]);
    hit.deviceCalls++;
    claim(hit, proc);
    note(hit, `${label} while it talks to ${media[0].network}'s network`, true);
    return true;
  }
  const launch = browserOf(scene, proc) ? scene.launches.get(group)?.[0] : undefined;
  if (launch) {
    const hit = hitFor(scene, launch.app);
    hit.deviceCalls++;
    claim(hit, proc);
    note(hit, `${label}, a browser ${launch.what}`, true);
    return true;
  }
  return false;
}

/** The holder is not in the process list (it exited, or the OS named only its path or package). */
function byCatalog(scene: Scene, d: DeviceUse): void {
  if (d.path) {
    const path = devicePath(d.path);
    const base = path.slice(path.lastIndexOf('/') + 1);
    for (const rule of scene.catalog.rules.get(ruleKey(scene.snapshot.platform, base)) ?? []) {
      const fit = fits(rule, { path });
      if (!fit.ok || (!fit.verified && (rule.pathNeedles || rule.store))) continue;
      countFor(scene, rule.app, rule, d, `${d.kind} in use by ${d.path}`, null);
      return;
    }
  }
  const rule = d.package ? scene.catalog.packages.get(d.package.toLowerCase())?.[0] : undefined;
  if (rule) countFor(scene, rule.app, rule, d, `${d.kind} in use by package ${d.package}`, null);
}

export function matchDevices(scene: Scene): void {
  const devices = scene.snapshot.devices;
  if (!devices || devices.length === 0) return;
  for (const d of devices) {
    const holders = holdersOf(scene, d);
    if (holders.length === 0) byCatalog(scene, d);
    else for (const proc of holders) if (attribute(scene, d, proc)) break;
  }
}
