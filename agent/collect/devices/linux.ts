/**
 * Linux capture devices: the holders the /proc fd walk found (proc-fds.ts), and, when a
 * session sound server is one of them, the client streams that server says are recording.
 *
 * The sound server runs as the logged-in user; its tool is run as that user (the agent is
 * root, so `execFile` can drop to the user's uid and gid), with that user's
 * XDG_RUNTIME_DIR, by absolute path, only if installed, with a 2 s limit. It runs only in a
 * poll where the server holds a capture node, i.e. someone is recording: PipeWire and
 * PulseAudio close an idle device after a few seconds, so a quiet machine never pays for it.
 * What this cannot see: a Bluetooth headset's microphone (no /dev/snd node: the stream
 * lives inside the sound server) unless another capture node is open too.
 */
import { execFile } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import type { DeviceUse, ProcessInfo } from '../../../shared/snapshot.js';
import type { CaptureHolder } from '../proc-fds.js';
import { parsePactlSourceOutputs, parsePwDump } from './sound-server.js';

export type SessionRunner = (file: string, args: string[], as: { uid: number; gid: number; env: NodeJS.ProcessEnv }) => Promise<string>;

const defaultRunner: SessionRunner = (file, args, as) =>
  new Promise((resolve, reject) => {
    const self = process.geteuid?.() ?? -1;
    // Only root may switch user; an agent running as the user itself needs no switch.
    const ids = self === 0 ? { uid: as.uid, gid: as.gid } : {};
    execFile(file, args, { ...ids, env: as.env, timeout: 2000, maxBuffer: 16 * 1024 * 1024, killSignal: 'SIGKILL' }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
  });

/** Process names of the session media servers that open devices for their clients. */
export const SOUND_SERVERS = new Set(['pipewire', 'pipewire-pulse', 'pulseaudio', 'wireplumber']);

export interface LinuxDeviceOptions {
  procRoot?: string;
  run?: SessionRunner;
  /** Where the tools live (`/usr/bin`); a test points it elsewhere. */
  binDir?: string;
  onError?: (what: string, err: unknown) => void;
}

export async function linuxDevices(holders: readonly CaptureHolder[], processes: readonly ProcessInfo[], opts: LinuxDeviceOptions = {}): Promise<DeviceUse[]> {
  const procRoot = opts.procRoot ?? '/proc';
  const run = opts.run ?? defaultRunner;
  const binDir = opts.binDir ?? '/usr/bin';
  const names = new Map(processes.map((p) => [p.pid, p.name]));
  const out: DeviceUse[] = [];
  const seen = new Set<string>();
  const add = (d: DeviceUse) => {
    const key = `${d.kind}:${d.pid ?? ''}:${d.path ?? ''}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(d);
    }
  };
  const sessions = new Map<number, { gid: number; pulseOnly: boolean }>();
  for (const h of holders) {
    add({ kind: h.kind, pid: h.pid });
    const name = names.get(h.pid) ?? '';
    if (!SOUND_SERVERS.has(name)) continue;
    try {
      const st = statSync(`${procRoot}/${h.pid}`);
      const prev = sessions.get(st.uid);
      sessions.set(st.uid, { gid: st.gid, pulseOnly: (prev?.pulseOnly ?? true) && name === 'pulseaudio' });
    } catch {
      // the server exited meanwhile
    }
  }
  for (const [uid, s] of sessions) {
    const env = { XDG_RUNTIME_DIR: `/run/user/${uid}`, PATH: '/usr/bin:/bin', LANG: 'C' };
    const pwDump = `${binDir}/pw-dump`;
    const pactl = `${binDir}/pactl`;
    try {
      if (!s.pulseOnly && existsSync(pwDump)) {
        for (const d of parsePwDump(await run(pwDump, [], { uid, gid: s.gid, env }))) add(d);
      } else if (existsSync(pactl)) {
        for (const d of parsePactlSourceOutputs(await run(pactl, ['-f', 'json', 'list', 'source-outputs'], { uid, gid: s.gid, env }))) add(d);
      }
    } catch (err) {
      // The server's own hold is still reported above: "in use", just not by whom.
      opts.onError?.(`asking the sound server of uid ${uid} which apps record`, err);
    }
  }
  return out;
}
