/**
 * Linux capture devices from a replayed /proc tree (test/fixtures/collect/linux/proc-tree.json),
 * and the PipeWire / PulseAudio answers that name the apps behind a sound server.
 *
 * Why a replayed tree: this machine has no /dev/video* and no /dev/snd, so no real process
 * can hold a real capture device here. The tree is materialised with real files and real
 * symlinks (what readlink on /proc/PID/fd/N returns) and read by the real collector; a real
 * child holding stand-in nodes is in test/integration/collect.test.ts. What this cannot
 * show: a real kernel's /proc, or pw-dump and pactl really running (they are not installed
 * here; their recorded output is replayed through the real parsers).
 */
import { chmodSync, chownSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { captureKindOf, walkFds } from '../../agent/collect/proc-fds.js';
import { createLinuxCollectors } from '../../agent/collect/linux.js';
import { parsePactlSourceOutputs, parsePwDump } from '../../agent/collect/devices/sound-server.js';
import { linuxDevices, type SessionRunner } from '../../agent/collect/devices/linux.js';
import { takeSnapshot } from '../../agent/collect/snapshot.js';
import { packageRoot } from '../../shared/paths.js';
import { tempDir } from '../support/server.js';

const FIXTURES = join(packageRoot(), 'test', 'fixtures', 'collect', 'linux');
const fixture = (name: string) => readFileSync(join(FIXTURES, name), 'utf8');

interface TreeProcess { pid: number; ppid: number; comm: string; exe: string; cmdline: string[]; uid: number; fds: Record<string, string> }
interface Tree { processes: TreeProcess[]; net: { tcp: string[]; udp: string[] } }

/** Writes the fixture as a /proc-shaped folder: PID/stat, cmdline, exe and fd/N links, net/*. */
function materialise(tree: Tree): string {
  const root = tempDir('cg-proc-');
  for (const p of tree.processes) {
    const dir = join(root, String(p.pid));
    mkdirSync(join(dir, 'fd'), { recursive: true });
    // Fields after "(comm) ": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime priority nice threads itrealvalue starttime ...
    writeFileSync(join(dir, 'stat'), `${p.pid} (${p.comm}) S ${p.ppid} ${p.pid} ${p.pid} 0 -1 4194560 1200 0 0 0 35 12 0 0 20 0 12 0 ${1000 + p.pid} 2273726464 4410 18446744073709551615\n`);
    writeFileSync(join(dir, 'cmdline'), `${p.cmdline.join('\0')}\0`);
    symlinkSync(p.exe, join(dir, 'exe'));
    for (const [fd, target] of Object.entries(p.fds)) symlinkSync(target, join(dir, 'fd', fd));
    if (process.geteuid?.() === 0) chownSync(dir, p.uid, p.uid);
  }
  mkdirSync(join(root, 'net'));
  writeFileSync(join(root, 'net', 'tcp'), `${tree.net.tcp.join('\n')}\n`);
  writeFileSync(join(root, 'net', 'udp'), `${tree.net.udp.join('\n')}\n`);
  return root;
}

describe('capture nodes', () => {
  it('counts /dev/video* as cameras and ALSA capture (not playback or control) nodes as microphones', () => {
    expect(captureKindOf('/dev/video0', '/dev')).toBe('camera');
    expect(captureKindOf('/dev/video12', '/dev')).toBe('camera');
    expect(captureKindOf('/dev/snd/pcmC0D0c', '/dev')).toBe('microphone');
    expect(captureKindOf('/dev/snd/pcmC1D2c', '/dev/')).toBe('microphone');
    for (const other of ['/dev/snd/pcmC0D0p', '/dev/snd/controlC0', '/dev/video0x', '/dev/videodev', '/dev/null', 'socket:[123]', '/tmp/dev/video0']) {
      expect(captureKindOf(other, '/dev')).toBeNull();
    }
  });
});

describe('a replayed /proc tree', () => {
  let proc = '';
  const tree = JSON.parse(fixture('proc-tree.json')) as Tree;
  beforeAll(() => {
    proc = materialise(tree);
  });

  it('finds every holder of a camera or microphone in one walk that also resolves socket owners', () => {
    const walk = walkFds({ inodes: new Set([40001, 50002]), capture: 'all', nodes: { devRoot: '/dev' } }, proc);
    expect(walk.owners).toEqual(new Map([[40001, 3310], [50002, 4120]]));
    expect(walk.holders.map((h) => [h.pid, h.kind, h.node]).sort()).toEqual([
      [1180, 'microphone', '/dev/snd/pcmC0D0c'],
      [3310, 'camera', '/dev/video0'], // two fds on one camera: one entry
      [4120, 'camera', '/dev/video2'],
      [5000, 'camera', '/dev/video1'],
    ].sort());
  });

  it('looks only at the candidate processes for devices, and stops early for sockets alone', () => {
    const some = walkFds({ inodes: new Set(), capture: new Set([4120, 1180]), nodes: { devRoot: '/dev' } }, proc);
    expect(some.holders.map((h) => h.pid).sort()).toEqual([1180, 4120]);
    const sockets = walkFds({ inodes: new Set([10001]), capture: null, nodes: { devRoot: '/dev' } }, proc);
    expect(sockets.owners).toEqual(new Map([[10001, 1]]));
    expect(sockets.holders).toEqual([]);
  });

  it('puts the holders in the snapshot and asks PipeWire, as the session user, which apps record through it', async () => {
    const bin = tempDir('cg-bin-');
    writeFileSync(join(bin, 'pw-dump'), '#!/bin/sh\n');
    chmodSync(join(bin, 'pw-dump'), 0o755);
    const calls: Array<{ file: string; uid: number; env: NodeJS.ProcessEnv }> = [];
    const run: SessionRunner = (file, _args, as) => {
      calls.push({ file, uid: as.uid, env: as.env });
      return Promise.resolve(fixture('pw-dump.json'));
    };
    const collectors = createLinuxCollectors({ procRoot: proc, devRoot: '/dev', deviceWalk: 'always', binDir: bin, run, userName: (uid) => (uid === 1000 ? 'drlee' : uid === 0 ? 'root' : undefined) });
    const wanted = (name: string) => ['zoom', 'firefox-esr'].includes(name);
    const snapshot = await takeSnapshot(collectors, new Date('2026-12-01T09:15:00Z'), () => true, wanted);
    expect(snapshot.devices).toEqual(expect.arrayContaining([
      { kind: 'camera', pid: 3310 }, { kind: 'camera', pid: 4120 },
      { kind: 'microphone', pid: 1180 }, // the sound server's own hold: "in use"
      { kind: 'microphone', pid: 3310 }, { kind: 'microphone', pid: 4120 }, // who records through it
      { kind: 'camera', pid: 7310 }, // a sandboxed browser using the camera through PipeWire
    ]));
    // The camera app (not a candidate during polls), the idle Zoom stream and pavucontrol's meter are not there.
    expect(snapshot.devices!.some((d) => d.pid === 5000 || d.pid === 5101)).toBe(false);
    expect(snapshot.devices).toHaveLength(6);
    expect(calls).toEqual([{ file: join(bin, 'pw-dump'), uid: 1000, env: expect.objectContaining({ XDG_RUNTIME_DIR: '/run/user/1000' }) }]);
    expect(snapshot.connections).toEqual(expect.arrayContaining([
      expect.objectContaining({ protocol: 'udp', remoteAddress: '170.114.10.77', remotePort: 8801, pid: 4120 }),
      expect.objectContaining({ protocol: 'tcp', remoteAddress: '157.240.8.53', remotePort: 443, pid: 3310 }),
    ]));
    const zoom = snapshot.processes.find((p) => p.pid === 4120);
    expect(zoom).toMatchObject({ name: 'zoom', path: '/opt/zoom/zoom', cmd: '/opt/zoom/zoom --url=zoommtg://zoom.us/join?confno=81234567890' });
    if (process.geteuid?.() === 0) expect(zoom?.user).toBe('drlee');
  });

  it('checks every process when nothing filters names (record), the camera app included', async () => {
    const collectors = createLinuxCollectors({ procRoot: proc, devRoot: '/dev', deviceWalk: 'always', binDir: tempDir(), userName: () => undefined });
    const snapshot = await takeSnapshot(collectors, new Date());
    expect(snapshot.devices).toEqual(expect.arrayContaining([{ kind: 'camera', pid: 5000 }]));
  });

  it('leaves devices out only when it cannot look, and says [] when nothing is held', async () => {
    // `auto` on a machine without capture nodes (this one): no walk, but the answer is still "none held", not unknown.
    const none = createLinuxCollectors({ procRoot: proc, devRoot: tempDir('cg-nodev-'), userName: () => undefined });
    expect((await takeSnapshot(none, new Date())).devices).toEqual([]);
  });

  it('keeps the sound server\'s hold when its session cannot be asked', async () => {
    const bin = tempDir('cg-bin-');
    writeFileSync(join(bin, 'pw-dump'), '');
    const errors: string[] = [];
    const devices = await linuxDevices([{ pid: 1180, kind: 'microphone', node: '/dev/snd/pcmC0D0c' }], [{ pid: 1180, name: 'pipewire' }],
      { procRoot: proc, binDir: bin, run: () => Promise.reject(new Error('Host is down')), onError: (what) => errors.push(what) });
    expect(devices).toEqual([{ kind: 'microphone', pid: 1180 }]);
    expect(errors).toEqual([expect.stringContaining('sound server of uid')]);
  });

  it('asks pactl when the sound server is PulseAudio', async () => {
    const bin = tempDir('cg-bin-');
    writeFileSync(join(bin, 'pactl'), '');
    const asked: string[][] = [];
    const devices = await linuxDevices([{ pid: 1180, kind: 'microphone', node: '/dev/snd/pcmC0D0c' }], [{ pid: 1180, name: 'pulseaudio' }],
      { procRoot: proc, binDir: bin, run: (file, args) => (asked.push([file, ...args]), Promise.resolve(fixture('pactl-source-outputs.json'))) });
    expect(asked).toEqual([[join(bin, 'pactl'), '-f', 'json', 'list', 'source-outputs']]);
    expect(devices).toEqual([{ kind: 'microphone', pid: 1180 }, { kind: 'microphone', pid: 4120 }]);
  });
});

describe('sound server answers (recorded formats)', () => {
  it('pw-dump: running capture streams by process; monitors, meters, idle and playback streams left out', () => {
    expect(parsePwDump(fixture('pw-dump.json'))).toEqual([
      { kind: 'microphone', pid: 3310 }, { kind: 'microphone', pid: 4120 }, // PulseAudio-API apps: their declared pid, not pipewire-pulse's
      { kind: 'camera', pid: 7310 }, // a sandboxed native client: the socket's pid, not the pid it declares
    ]);
  });

  it('pw-dump of a real pipewire-pulse client (PipeWire 0.3.65): the app, not pipewire-pulse, holds the microphone', () => {
    // Recorded here: parecord (client name "ZOOM VoiceEngine", pid 28484) through pipewire-pulse
    // (pid 28398); the Client's pipewire.sec.pid is pipewire-pulse's. Not linked (no session
    // manager), so suspended: no microphone in use until it runs.
    const text = fixture('pw-dump-pulse-client-real.json');
    expect(parsePwDump(text)).toEqual([]);
    const dump = JSON.parse(text) as Array<{ type: string; info: { state?: string; props: Record<string, unknown> } }>;
    const stream = dump.find((o) => o.type === 'PipeWire:Interface:Node' && o.info.props['media.class'] === 'Stream/Input/Audio')!;
    stream.info.state = 'running';
    expect(parsePwDump(JSON.stringify(dump))).toEqual([{ kind: 'microphone', pid: 28484 }]);
  });

  it('pactl of a real pipewire-pulse (0.3.65): a corked stream is no microphone; once it records, its app\'s pid', () => {
    const text = fixture('pactl-source-outputs-real.json');
    expect(parsePactlSourceOutputs(text)).toEqual([]);
    const list = JSON.parse(text) as Array<{ corked: boolean }>;
    list[0]!.corked = false;
    expect(parsePactlSourceOutputs(JSON.stringify(list))).toEqual([{ kind: 'microphone', pid: 28484 }]);
  });

  it('pw-dump: a camera stream through PipeWire, and the self-declared pid when the client has none', () => {
    const dump = [
      { id: 5, type: 'PipeWire:Interface:Node', info: { state: 'running', props: { 'media.class': 'Stream/Input/Video', 'application.process.id': '7700' } } },
      { id: 6, type: 'PipeWire:Interface:Node', info: { state: 'running', props: { 'media.class': 'Stream/Input/Audio', 'application.process.binary': '/usr/bin/obs' } } },
      { id: 7, type: 'PipeWire:Interface:Node', info: { state: 'running', props: { 'media.class': 'Stream/Input/Audio', 'application.process.binary': 'arecord' } } },
    ];
    // No pid: an absolute path still names the holder; a bare name does not, but the microphone is in use all the same.
    expect(parsePwDump(JSON.stringify(dump))).toEqual([{ kind: 'camera', pid: 7700 }, { kind: 'microphone', path: '/usr/bin/obs' }, { kind: 'microphone' }]);
  });

  it('pw-dump of a real PipeWire 0.3.65 (Debian 12): a recording stream is found once it runs, by the client\'s verified pid', () => {
    // Recorded here from a real `pipewire` with `pw-record` capturing from a null source; with no
    // session manager to link it, the stream stayed `suspended`, which is no microphone in use.
    const text = fixture('pw-dump-debian12-real.json');
    expect(parsePwDump(text)).toEqual([]);
    const dump = JSON.parse(text) as Array<{ type: string; id: number; info: { state?: string; props: Record<string, unknown> } }>;
    const stream = dump.find((o) => o.type === 'PipeWire:Interface:Node' && o.info.props['media.class'] === 'Stream/Input/Audio')!;
    const client = dump.find((o) => o.id === stream.info.props['client.id'])!;
    stream.info.state = 'running'; // what linking it to a source (WirePlumber does) makes it
    expect(parsePwDump(JSON.stringify(dump))).toEqual([{ kind: 'microphone', pid: client.info.props['pipewire.sec.pid'] }]);
    expect(typeof client.info.props['pipewire.sec.pid']).toBe('number');
  });

  it('pactl: uncorked recording streams only, without level meters', () => {
    expect(parsePactlSourceOutputs(fixture('pactl-source-outputs.json'))).toEqual([{ kind: 'microphone', pid: 4120 }]);
  });

  it('refuses output that is not the tool\'s JSON', () => {
    expect(() => parsePwDump('{"error":"no"}')).toThrow(/not a JSON array/);
    expect(() => parsePactlSourceOutputs('Connection failure: Connection refused')).toThrow();
  });
});
