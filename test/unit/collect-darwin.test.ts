/**
 * macOS collectors replayed: raw outputs of /bin/ps, lsof -F, dscl and the capture-device
 * JXA script (test/fixtures/collect/darwin/) go through the real parsers and the real
 * collector wiring, with the runner answering from the fixtures.
 *
 * What this cannot show: macOS itself. These fixtures are written to the documented output
 * formats of macOS 13-15 (ps(1), lsof(8) "OUTPUT FOR OTHER PROGRAMS", dscl(1)) and to the
 * script's own report; no Mac ran them, so the tools' real behaviour, the JXA bridge calls
 * and the real cost per poll on a Mac are unverified here. The parse cost is measured in
 * the last test (printed, not asserted).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createDarwinCollectors } from '../../agent/collect/darwin.js';
import { bundleIdFromXml, bundleOf } from '../../agent/collect/darwin-bundles.js';
import { parseLsof, splitEndpoint, LSOF_ARGS, LSOF_FILE } from '../../agent/collect/darwin-lsof.js';
import { darwinName, parseDarwinPs, PS_ARGS, PS_FILE } from '../../agent/collect/darwin-ps.js';
import { createDarwinUserNames, DSCL_ARGS, DSCL_FILE, parseDsclUsers } from '../../agent/collect/darwin-users.js';
import { createDarwinCaptureProbe, OSASCRIPT, OSASCRIPT_ARGS, parseDarwinCapture } from '../../agent/collect/devices/darwin-capture.js';
import type { DarwinRunner } from '../../agent/collect/darwin-run.js';
import { packageRoot } from '../../shared/paths.js';

const DIR = join(packageRoot(), 'test', 'fixtures', 'collect', 'darwin');
const fixture = (name: string) => readFileSync(join(DIR, name), 'utf8');

/** Answers like the Mac would, from the fixtures; anything else is a test failure. */
function replay(calls: string[] = []): DarwinRunner {
  return (file, args) => {
    calls.push([file, ...args].join(' '));
    if (file === PS_FILE && args.join(' ') === PS_ARGS.join(' ')) return Promise.resolve(fixture('ps-axww.txt'));
    if (file === LSOF_FILE && args.join(' ') === LSOF_ARGS.join(' ')) return Promise.resolve(fixture('lsof-F.txt'));
    if (file === DSCL_FILE && args.join(' ') === DSCL_ARGS.join(' ')) return Promise.resolve(fixture('dscl-users.txt'));
    if (file === '/usr/bin/id' && args[0] === '-un' && args[1] === '1204862312') return Promise.resolve('CLINIC\\j.nguyen\n');
    if (file === '/usr/bin/id') return Promise.reject(new Error(`id: ${args[1]}: no such user`));
    return Promise.reject(new Error(`unexpected command ${file} ${args.join(' ')}`));
  };
}

describe('macOS processes (/bin/ps)', () => {
  it('asks ps for a comm column wide enough for any path, by absolute path', () => {
    expect(PS_FILE).toBe('/bin/ps');
    expect(PS_ARGS.filter((a) => a !== '-o')).toEqual(['-axww', 'pid=PID', 'ppid=PPID', 'uid=UID', 'lstart=STARTED', `comm=COMMAND${'-'.repeat(1017)}`, 'args=ARGUMENTS']);
    expect(PS_ARGS.filter((a) => a === '-o')).toHaveLength(6); // one column per -o: a header never swallows the next keyword
  });

  it('keeps full paths with spaces and parentheses, which ps-list\'s six-token guess lost', () => {
    const rows = parseDarwinPs(fixture('ps-axww.txt'));
    expect(rows).toHaveLength(15);
    const renderer = rows.find((r) => r.pid === 5342)!;
    expect(renderer.comm).toBe('/Applications/Google Chrome.app/Contents/Frameworks/Google Chrome Framework.framework/Versions/131.0.6778.86/Helpers/Google Chrome Helper (Renderer).app/Contents/MacOS/Google Chrome Helper (Renderer)');
    expect(renderer.args).toMatch(/--type=renderer .*--seatbelt-client=112$/);
    expect(darwinName(renderer.comm)).toBe('Google Chrome Helper (Renderer)');
    expect(rows.find((r) => r.pid === 4120)).toEqual({ pid: 4120, ppid: 1, uid: 501, started: 'Tue Dec 1 09:02:55 2026', comm: '/Applications/zoom.us.app/Contents/MacOS/zoom.us', args: '/Applications/zoom.us.app/Contents/MacOS/zoom.us' });
    expect(darwinName('-zsh')).toBe('zsh');
  });

  it('refuses output without its header, and skips rows that do not fit', () => {
    expect(() => parseDarwinPs('  PID COMMAND\n  1 /sbin/launchd\n')).toThrow(/header/);
    const text = fixture('ps-axww.txt').split('\n');
    expect(parseDarwinPs([text[0], 'garbage', text[1]].join('\n'))).toHaveLength(1);
  });
});

describe('macOS user names (Directory Services)', () => {
  it('maps uids from dscl, names with spaces included', () => {
    const users = parseDsclUsers(fixture('dscl-users.txt'));
    expect(users.get(501)).toBe('dr.lee');
    expect(users.get(502)).toBe('reception desk');
    expect(users.get(-2)).toBe('nobody');
  });

  it('loads dscl once, asks id -un for a network account, and falls back to uid:N', async () => {
    const calls: string[] = [];
    let t = 0;
    const name = createDarwinUserNames(replay(calls), () => t);
    expect(await name(501)).toBe('dr.lee');
    expect(await name(0)).toBe('root');
    expect(await name(1204862312)).toBe('CLINIC\\j.nguyen');
    expect(await name(1204862312)).toBe('CLINIC\\j.nguyen');
    expect(await name(777)).toBe('uid:777');
    t += 61_000;
    expect(await name(501)).toBe('dr.lee');
    expect(calls.filter((c) => c.startsWith(DSCL_FILE))).toHaveLength(1); // known uids never reload
    expect(calls.filter((c) => c.startsWith('/usr/bin/id'))).toEqual(['/usr/bin/id -un 1204862312', '/usr/bin/id -un 777']);
  });
});

describe('macOS connections (lsof -F)', () => {
  it('reads connected TCP and UDP with their pid, IPv6 included; leaves out listening, unconnected and closing sockets', () => {
    const conns = parseLsof(fixture('lsof-F.txt'));
    expect(conns).toEqual([
      { pid: 385, protocol: 'tcp', localAddress: '10.2.0.15', localPort: 49311, remoteAddress: '17.248.185.3', remotePort: 443, state: 'ESTABLISHED' },
      { pid: 1022, protocol: 'udp', localAddress: '10.2.0.15', localPort: 16393, remoteAddress: '17.173.254.221', remotePort: 3478, state: '' },
      { pid: 4120, protocol: 'tcp', localAddress: '10.2.0.15', localPort: 53739, remoteAddress: '170.114.10.20', remotePort: 443, state: 'ESTABLISHED' },
      { pid: 4120, protocol: 'udp', localAddress: '10.2.0.15', localPort: 58221, remoteAddress: '170.114.10.77', remotePort: 8801, state: '' },
      { pid: 4120, protocol: 'tcp', localAddress: '10.2.0.15', localPort: 53740, remoteAddress: '170.114.52.3', remotePort: 443, state: 'CLOSE_WAIT' },
      // the socket CptHost shares with its parent is listed once, under the first owner
      { pid: 5317, protocol: 'tcp', localAddress: '10.2.0.15', localPort: 54102, remoteAddress: '157.240.8.53', remotePort: 443, state: 'ESTABLISHED' },
      { pid: 5317, protocol: 'tcp', localAddress: '2001:db8:4:1::15', localPort: 54110, remoteAddress: '2a03:2880:f003:c07:face:b00c::167', remotePort: 443, state: 'ESTABLISHED' },
      { pid: 5317, protocol: 'udp', localAddress: '10.2.0.15', localPort: 62051, remoteAddress: '157.240.8.61', remotePort: 3478, state: '' },
      { pid: 5317, protocol: 'tcp', localAddress: '127.0.0.1', localPort: 54200, remoteAddress: '127.0.0.1', remotePort: 54201, state: 'ESTABLISHED' },
      // macOS prints link-local addresses with the scope inside (KAME form): kept as printed
      { pid: 5317, protocol: 'tcp', localAddress: 'fe80:4::aede:48ff:fe00:1122', localPort: 54301, remoteAddress: 'fe80:4::1', remotePort: 7000, state: 'SYN_SENT' },
      { pid: 6001, protocol: 'tcp', localAddress: '10.2.0.15', localPort: 49500, remoteAddress: '17.57.146.20', remotePort: 5223, state: 'ESTABLISHED' },
    ]);
  });

  it('keeps only what the caller finds interesting', () => {
    expect(parseLsof(fixture('lsof-F.txt'), (a) => a.startsWith('170.114.')).map((c) => c.remotePort)).toEqual([443, 8801, 443]);
  });

  it('splits endpoints of every shape lsof prints', () => {
    expect(splitEndpoint('*:5353')).toEqual({ address: '*', port: 5353 });
    expect(splitEndpoint('*:*')).toEqual({ address: '*', port: null });
    expect(splitEndpoint('[::1]:8470')).toEqual({ address: '::1', port: 8470 });
    expect(splitEndpoint('[fe80::1%lo0]:5000')).toEqual({ address: 'fe80::1', port: 5000 });
    expect(splitEndpoint('10.0.0.1')).toBeNull();
    expect(splitEndpoint('10.0.0.1:99999')).toBeNull();
  });
});

describe('macOS collectors together', () => {
  it('a replayed poll: directory user names, full paths, command lines, lsof connections', async () => {
    const calls: string[] = [];
    const c = createDarwinCollectors({ run: replay(calls) });
    const procs = await c.processes();
    expect(procs.find((p) => p.pid === 4120)).toEqual({ pid: 4120, ppid: 1, name: 'zoom.us', path: '/Applications/zoom.us.app/Contents/MacOS/zoom.us', cmd: '/Applications/zoom.us.app/Contents/MacOS/zoom.us', user: 'dr.lee' });
    expect(procs.find((p) => p.pid === 5390)).toMatchObject({ name: 'Google Chrome', cmd: expect.stringContaining('--app=https://web.whatsapp.com/'), user: 'dr.lee' });
    expect(procs.find((p) => p.pid === 148)?.user).toBe('_windowserver');
    expect(procs.find((p) => p.pid === 7002)).toMatchObject({ name: 'Signal', user: 'CLINIC\\j.nguyen' });
    expect(procs.find((p) => p.pid === 2210)).toMatchObject({ name: 'zsh', user: 'dr.lee' });
    expect(procs.find((p) => p.pid === 2210)?.path).toBeUndefined(); // "-zsh" is no path
    expect(procs.every((p) => !p.user?.startsWith('uid:'))).toBe(true);
    expect((await c.connections()).length).toBe(11);
    expect(calls.every((cmd) => cmd.startsWith('/'))).toBe(true);
    expect(c.devices).toBeUndefined(); // no rendezvous root given: devices "not known"
    expect(c.capabilities()).toMatchObject({ processPaths: 'yes', processUsers: 'yes', udpPeers: 'partial', captureDevices: 'no' });
  });
});

describe('macOS bundle ids', () => {
  const plists: Record<string, string> = {
    '/Applications/zoom.us.app/Contents/Info.plist': 'zoom.us.plist',
    '/Applications/zoom.us.app/Contents/Frameworks/CptHost.app/Contents/Info.plist': 'CptHost.plist',
  };
  // FaceTime's Info.plist is a binary plist (only its magic matters: plutil reads it).
  const readFile = (path: string): Buffer => {
    if (path === '/System/Applications/FaceTime.app/Contents/Info.plist') return Buffer.from('bplist00\xd1\x01\x02', 'latin1');
    const name = plists[path];
    if (!name) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
    return readFileSync(join(DIR, 'plists', name));
  };

  it('finds the innermost .app holding the executable', () => {
    expect(bundleOf('/Applications/zoom.us.app/Contents/MacOS/zoom.us')).toBe('/Applications/zoom.us.app');
    expect(bundleOf('/Applications/zoom.us.app/Contents/Frameworks/CptHost.app/Contents/MacOS/CptHost')).toBe('/Applications/zoom.us.app/Contents/Frameworks/CptHost.app');
    expect(bundleOf('/usr/libexec/avconferenced')).toBeNull();
    expect(bundleOf('/Applications/zoom.us.app/Contents/Frameworks/libzoom.dylib')).toBeNull();
  });

  it('puts CFBundleIdentifier on the processes that could matter, XML read directly, binary through plutil, each bundle once', async () => {
    const calls: string[] = [];
    const base = replay(calls);
    const run: DarwinRunner = (file, args) => (file === '/usr/bin/plutil' ? (calls.push([file, ...args].join(' ')), Promise.resolve('com.apple.FaceTime\n')) : base(file, args));
    const c = createDarwinCollectors({ run, readFile });
    const wanted = (n: string) => ['zoom.us', 'CptHost', 'FaceTime', 'avconferenced', 'Signal'].includes(n);
    for (let i = 0; i < 2; i++) {
      const procs = await c.processes(wanted);
      expect(procs.find((p) => p.pid === 4120)?.bundleId).toBe('us.zoom.xos');
      expect(procs.find((p) => p.pid === 4188)?.bundleId).toBe('us.zoom.CptHost');
      expect(procs.find((p) => p.pid === 6001)?.bundleId).toBe('com.apple.FaceTime');
      expect(procs.find((p) => p.pid === 1022)?.bundleId).toBeUndefined(); // a daemon, no bundle
      expect(procs.find((p) => p.pid === 7002)?.bundleId).toBeUndefined(); // Info.plist unreadable
      expect(procs.find((p) => p.pid === 5301)?.bundleId).toBeUndefined(); // not asked for: name not wanted
    }
    expect(calls.filter((x) => x.startsWith('/usr/bin/plutil'))).toEqual(['/usr/bin/plutil -extract CFBundleIdentifier raw -o - /System/Applications/FaceTime.app/Contents/Info.plist']);
    expect(bundleIdFromXml('<plist><dict><key>CFBundleName</key><string>x</string></dict></plist>')).toBeNull();
  });
});

describe('macOS capture devices (osascript JXA report)', () => {
  it('asks osascript by absolute path with a JXA script that reads only "in use" properties', () => {
    expect(OSASCRIPT).toBe('/usr/bin/osascript');
    expect(OSASCRIPT_ARGS.slice(0, 3)).toEqual(['-l', 'JavaScript', '-e']);
    const script = OSASCRIPT_ARGS[3]!;
    for (const needle of ['isInUseByAnotherApplication', "'gone'", "'prs#'", "'ppid'", "'piri'"]) expect(script).toContain(needle);
    // never starts a capture session or opens a stream
    expect(script).not.toMatch(/AVCaptureSession|startRunning|AudioDeviceStart|AudioUnit/);
  });

  it('the script\'s own logic (byte packing, selectors, fallbacks), run against a stand-in of the ObjC bridge', () => {
    // Not macOS: a small model of what the bridge does (NSData as bytes, C calls on a fake
    // Core Audio object tree), so the script's JavaScript is run, not only parsed. Whether
    // the real bridge accepts these calls is what this cannot show.
    type Data = { bytes: Buffer };
    const data = (bytes: Buffer) => {
      const d: Data & Record<string, unknown> = { bytes };
      d.mutableBytes = d;
      d.base64EncodedStringWithOptions = () => ({ js: d.bytes.toString('base64') });
      return d;
    };
    const fourcc = (n: number) => String.fromCharCode((n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255);
    // object -> "selector/scope" -> UInt32 values
    const audio: Record<number, Record<string, number[]>> = {
      1: { 'dev#/glob': [73, 91], 'prs#/glob': [300, 301] },
      73: { 'stm#/inpt': [5], 'gone/glob': [1] }, // built-in microphone, running
      91: { 'stm#/inpt': [], 'gone/glob': [1] }, // speakers: no input streams
      300: { 'ppid/glob': [4120], 'piri/glob': [1] },
      301: { 'ppid/glob': [999], 'piri/glob': [0] },
    };
    const values = (obj: number, addr: Data) => audio[obj]?.[`${fourcc(addr.bytes.readUInt32LE(0))}/${fourcc(addr.bytes.readUInt32LE(4))}`];
    const dollar = Object.assign((s: string) => ({ js: s }), {
      AVMediaTypeVideo: 'vide',
      AVCaptureDevice: { devicesWithMediaType: () => ({ count: 2, objectAtIndex: (i: number) => [{ localizedName: { js: 'FaceTime HD Camera' }, isInUseByAnotherApplication: true }, { localizedName: { js: 'Desk View' }, isInUseByAnotherApplication: false }][i] }) },
      NSMutableData: {
        alloc: { initWithBase64EncodedStringOptions: (s: { js: string }) => data(Buffer.from(s.js, 'base64')) },
        dataWithLength: (n: number) => data(Buffer.alloc(n)),
      },
    }) as unknown as Record<string, unknown>;
    const ObjC = {
      import: () => undefined,
      bindFunction: (name: string) => {
        dollar[name] = name === 'AudioObjectGetPropertyDataSize'
          ? (obj: number, addr: Data, _q: number, _qd: null, size: Data) => {
            const v = values(obj, addr);
            if (!v) return 2003332927; // kAudioHardwareUnknownPropertyError ('who?')
            size.bytes.writeUInt32LE(4 * v.length, 0);
            return 0;
          }
          : (obj: number, addr: Data, _q: number, _qd: null, size: Data, out: Data) => {
            const v = values(obj, addr);
            if (!v) return 2003332927;
            v.forEach((x, i) => out.bytes.writeUInt32LE(x, 4 * i));
            size.bytes.writeUInt32LE(4 * v.length, 0);
            return 0;
          };
      },
    };
    const script = OSASCRIPT_ARGS[3]!;
    const run = new Function('ObjC', '$', `${script}\nreturn run();`) as (o: unknown, d: unknown) => string;
    const out = run(ObjC, dollar);
    expect(JSON.parse(out)).toEqual({ v: 1, cameras: [{ name: 'FaceTime HD Camera', inUse: true }, { name: 'Desk View', inUse: false }], inputDevices: [{ id: 73, running: true }], inputProcesses: [{ pid: 4120 }], errors: [] });
    expect(parseDarwinCapture(out).devices).toEqual([{ kind: 'camera' }, { kind: 'microphone', pid: 4120 }]);
    // Before macOS 14.2 there are no process objects: the script says so with null, and the device flag decides.
    delete audio[1]!['prs#/glob'];
    expect(parseDarwinCapture(run(ObjC, dollar))).toEqual({ devices: [{ kind: 'camera' }, { kind: 'microphone' }], errors: [] });
  });

  it('macOS 14.2+: camera in use without a pid, microphone by process', () => {
    expect(parseDarwinCapture(fixture('osascript-macos15-zoom-call.json'))).toEqual({
      devices: [{ kind: 'camera' }, { kind: 'microphone', pid: 4120 }, { kind: 'microphone', pid: 4188 }], errors: [],
    });
  });

  it('older macOS: microphone from the device running somewhere, without a pid', () => {
    expect(parseDarwinCapture(fixture('osascript-macos13-facetime.json')).devices).toEqual([{ kind: 'camera' }, { kind: 'microphone' }]);
  });

  it('a headset only playing music is no microphone when per-process answers exist', () => {
    expect(parseDarwinCapture(fixture('osascript-macos15-headset-music.json')).devices).toEqual([]);
  });

  it('a script that could tell nothing means "not known", not "none in use"', () => {
    expect(parseDarwinCapture(fixture('osascript-failed.json')).devices).toBeNull();
    expect(() => parseDarwinCapture('execution error: Error: SyntaxError (-2700)')).toThrow();
  });

  it('the helper\'s probe reuses a fresh answer and reports a failing script as not known', async () => {
    let t = 0;
    let runs = 0;
    const probe = createDarwinCaptureProbe((file, args) => {
      runs++;
      expect([file, ...args.slice(0, 2)]).toEqual(['/usr/bin/osascript', '-l', 'JavaScript']);
      return runs === 1 ? Promise.resolve(fixture('osascript-macos15-zoom-call.json')) : Promise.reject(new Error('osascript timed out'));
    }, 2000, () => t);
    expect((await probe()).devices).toHaveLength(3);
    t += 500;
    expect((await probe()).devices).toHaveLength(3);
    expect(runs).toBe(1);
    t += 2000;
    expect(await probe()).toEqual({ devices: null, detail: expect.stringContaining('osascript timed out') });
  });

  it('parse cost per poll (replayed; the cost of ps, lsof and osascript on a real Mac is not measured here)', async () => {
    const ps = fixture('ps-axww.txt');
    const lsof = fixture('lsof-F.txt');
    // A clinic Mac runs ~500 processes and ~300 sockets: scale the fixtures up to that.
    const [head, ...rows] = ps.trimEnd().split('\n');
    const bigPs = [head, ...Array.from({ length: 34 }, () => rows).flat()].join('\n');
    const bigLsof = Array.from({ length: 28 }, () => lsof).join('');
    const times: number[] = [];
    for (let i = 0; i < 30; i++) {
      const t0 = process.cpuUsage();
      parseDarwinPs(bigPs);
      parseLsof(bigLsof);
      const d = process.cpuUsage(t0);
      times.push((d.user + d.system) / 1000);
    }
    times.sort((a, b) => a - b);
    console.info(`macOS parse CPU per poll (${parseDarwinPs(bigPs).length} processes, ${28 * 11} connections listed): median ${times[15]!.toFixed(2)} ms`);
    expect(parseDarwinPs(bigPs).length).toBe(510);
  });
});
