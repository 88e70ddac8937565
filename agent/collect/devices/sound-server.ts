/**
 * Linux desktops route cameras and microphones through a session media server: PipeWire
 * (Debian 12 GNOME, Ubuntu 22.10+, Fedora 34+) or PulseAudio. Then the /proc fd walk sees
 * the server holding /dev/snd/pcmC0D0c (or /dev/video0), not the app; the server itself
 * knows which client streams are recording. These parse its machine-readable answers:
 *
 * - `pw-dump` (PipeWire): a JSON array of objects. A recording app is a Node whose
 *   `media.class` is `Stream/Input/Audio` (microphone) or `Stream/Input/Video` (camera, e.g.
 *   through the camera portal), in state `running`. For a native PipeWire client its
 *   process is the Client's `pipewire.sec.pid` (taken by the server from the socket's
 *   credentials, so a sandboxed app cannot lie about it). For an app using the PulseAudio
 *   API (Zoom, Chrome, Firefox) through pipewire-pulse, that pid is pipewire-pulse's own
 *   (recorded on PipeWire 0.3.65: test/fixtures/collect/linux/pw-dump-pulse-client-real.json),
 *   so the app's declared `application.process.id` is used instead. What that cannot tell: a
 *   Flatpak app declares its pid in the sandbox's own pid namespace, so such an entry may
 *   name no process of the host (the matcher then finds no app behind it).
 * - `pactl -f json list source-outputs` (PulseAudio 16+, also pipewire-pulse): every
 *   recording stream with `corked` and its `properties`.
 *
 * Streams that record the speakers (a sink monitor) or only meter levels (pavucontrol's
 * "Peak detect") are not microphones and are skipped.
 */
import type { DeviceUse } from '../../../shared/snapshot.js';

type Props = Record<string, unknown>;

const asProps = (v: unknown): Props => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Props) : {});

function pidOf(...candidates: unknown[]): number | undefined {
  for (const c of candidates) {
    const n = typeof c === 'number' ? c : typeof c === 'string' && /^\d+$/.test(c) ? Number(c) : NaN;
    if (Number.isInteger(n) && n > 0) return n;
  }
  return undefined;
}

const truthy = (v: unknown): boolean => v === true || v === 'true' || v === 1 || v === '1';

function recordsSpeakers(p: Props): boolean {
  return truthy(p['stream.monitor']) || truthy(p['stream.capture.sink']) || p['media.name'] === 'Peak detect';
}

/** pw-dump JSON -> capture streams in use, by process. Throws on text that is not a pw-dump array. */
export function parsePwDump(text: string): DeviceUse[] {
  const objects = JSON.parse(text) as unknown;
  if (!Array.isArray(objects)) throw new Error('pw-dump output is not a JSON array');
  const clients = new Map<number, Props>();
  for (const o of objects) {
    const obj = asProps(o);
    if (obj.type === 'PipeWire:Interface:Client' && typeof obj.id === 'number') clients.set(obj.id, asProps(asProps(obj.info).props));
  }
  const out: DeviceUse[] = [];
  const seen = new Set<string>();
  for (const o of objects) {
    const obj = asProps(o);
    if (obj.type !== 'PipeWire:Interface:Node') continue;
    const info = asProps(obj.info);
    const props = asProps(info.props);
    const cls = props['media.class'];
    const kind = cls === 'Stream/Input/Audio' ? 'microphone' : cls === 'Stream/Input/Video' ? 'camera' : null;
    if (!kind || info.state !== 'running' || recordsSpeakers(props)) continue;
    const client = clients.get(pidOf(props['client.id']) ?? -1) ?? {};
    const viaPulse = client['client.api'] === 'pipewire-pulse' || props['client.api'] === 'pipewire-pulse';
    const pid = viaPulse
      ? pidOf(props['application.process.id'], client['application.process.id'])
      : pidOf(client['pipewire.sec.pid'], props['pipewire.sec.pid'], client['application.process.id'], props['application.process.id']);
    const use: DeviceUse = { kind };
    if (pid !== undefined) use.pid = pid;
    // Without a pid, an absolute binary path still names the holder (section 2's `path`); a bare name does not.
    const binary = props['application.process.binary'] ?? client['application.process.binary'];
    if (pid === undefined && typeof binary === 'string' && binary.startsWith('/')) use.path = binary;
    const key = `${kind}:${use.pid ?? use.path ?? ''}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(use);
    }
  }
  return out;
}

/** `pactl -f json list source-outputs` -> microphones in use, by process. */
export function parsePactlSourceOutputs(text: string): DeviceUse[] {
  const list = JSON.parse(text) as unknown;
  if (!Array.isArray(list)) throw new Error('pactl output is not a JSON array');
  const out: DeviceUse[] = [];
  const seen = new Set<string>();
  for (const item of list) {
    const so = asProps(item);
    const props = asProps(so.properties);
    if (truthy(so.corked) || recordsSpeakers(props)) continue;
    // Under pipewire-pulse a `pipewire.sec.pid` here would be pipewire-pulse's own (see above).
    const pid = pidOf(props['application.process.id']);
    const use: DeviceUse = { kind: 'microphone' };
    if (pid !== undefined) use.pid = pid;
    else if (typeof props['application.process.binary'] === 'string' && props['application.process.binary'].startsWith('/')) use.path = props['application.process.binary'];
    const key = `${use.pid ?? use.path ?? ''}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(use);
    }
  }
  return out;
}
