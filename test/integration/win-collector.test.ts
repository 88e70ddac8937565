/**
 * The native Windows collector for real: consultguard-collector.exe and a fake video app are
 * built with mingw here, run under wine, and the agent's own Windows collector module
 * (win-native.ts, running in this Linux node with `wine` as its launcher) reads them. The
 * fake app sits at C:\Program Files\Zoom\bin\Zoom.exe with a UDP socket and a TCP connection
 * to a loopback listener; a copy named Zoë.exe checks that names survive in UTF-8.
 *
 * What this cannot show: a real Windows process table (services, other users' sessions,
 * protected processes the service cannot open), SYSTEM's view of other accounts (wine runs
 * every process as the one unix user), and node.exe as the collector's parent (node under
 * wine is heavy; test/installers/msi-wine-collector.test.ts covers the installed service).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, copyFileSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createNativeChild } from '../../agent/collect/win-native-child.js';
import { parseCmd, parsePoll, parseTcp } from '../../agent/collect/win-native-parse.js';
import { COLLECTOR_ENV, COLLECTOR_LAUNCHER_ENV, collectorCommand, createWindowsCollectors, type WindowsCollectors } from '../../agent/collect/win-native.js';
import { compileForScan } from '../../agent/commands/scan.js';
import { detect } from '../../agent/detect/index.js';
import { packageRoot } from '../../shared/paths.js';
import type { Snapshot } from '../../shared/snapshot.js';
import { skipUnless } from '../installers/build-once.js';
import { createWinePrefix, type WinePrefix } from '../installers/wine.js';
import { tempDir } from '../support/server.js';
import { buildCollector, buildFakeApp } from '../support/win/programs.js';

const skip = skipUnless('native collector under wine', ['x86_64-w64-mingw32-gcc', 'wine', 'wineboot', 'wineserver']);

const ZOOM = 'C:\\Program Files\\Zoom\\bin\\Zoom.exe';
const ZOE = 'C:\\Program Files\\Zoom\\bin\\Zoë.exe';
/**
 * Wine finds a TCP socket's owner by reading every wine process's fd table for every socket
 * on the machine (nsiproxy's find_owning_pid): seconds to a minute on a busy test machine.
 */
const OWNERS_MS = 180_000;

describe.skipIf(skip)('native collector under wine', () => {
  let wine: WinePrefix;
  let dir: string;
  let collectorExe: string;
  let listener: Server;
  let listenPort = 0;
  const accepted: Socket[] = [];
  const apps: ChildProcess[] = [];
  let collectors: WindowsCollectors;
  let fallbackCalls = 0;
  let startedAt = 0;

  /** Starts a program inside the prefix; its output goes to a file (wine's helpers inherit it). */
  function startApp(winPath: string, seconds: number): { out: string } {
    const out = join(dir, `app-${apps.length}.txt`);
    const fd = openSync(out, 'w');
    const child = spawn('wine', [winPath, '127.0.0.1', String(listenPort), String(seconds)], { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    apps.push(child);
    return { out };
  }

  beforeAll(async () => {
    dir = tempDir('cg-wincoll-');
    const [exe, fake, prefix] = await Promise.all([buildCollector(dir), buildFakeApp(dir), createWinePrefix()]);
    collectorExe = exe;
    wine = prefix;
    // Every wine process of this file (the apps, the collector the agent module starts) uses this prefix.
    Object.assign(process.env, { WINEPREFIX: wine.prefix, WINEDEBUG: '-all', WINEDLLOVERRIDES: 'mscoree,mshtml=', DISPLAY: '' });
    const bin = join(wine.driveC, 'Program Files', 'Zoom', 'bin');
    mkdirSync(bin, { recursive: true });
    copyFileSync(fake, join(bin, 'Zoom.exe'));
    copyFileSync(fake, join(bin, 'Zoë.exe'));
    listener = createServer((s) => {
      s.on('error', () => undefined);
      accepted.push(s);
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    listenPort = (listener.address() as { port: number }).port;
    startedAt = Date.now();
    const zoom = startApp(ZOOM, 300);
    const zoe = startApp(ZOE, 300);
    await vi.waitFor(() => {
      expect(readFileSync(zoom.out, 'utf8')).toMatch(/udp \d+/);
      expect(readFileSync(zoe.out, 'utf8')).toMatch(/udp \d+/);
    }, { timeout: 60_000, interval: 200 });
    const command = collectorCommand({ [COLLECTOR_ENV]: collectorExe, [COLLECTOR_LAUNCHER_ENV]: 'wine' });
    collectors = createWindowsCollectors({
      command,
      timeoutMs: OWNERS_MS,
      backoff: { minMs: 200, maxMs: 400 },
      fallback: {
        processes: async () => (fallbackCalls++, []),
        connections: async () => (fallbackCalls++, []),
      },
    });
  }, 300_000);

  afterAll(async () => {
    collectors?.close();
    for (const a of apps) if (a.exitCode === null) a.kill('SIGKILL');
    for (const s of accepted) s.destroy();
    listener?.close();
    await wine?.destroy();
  });

  const udpPortOf = (i: number) => Number(/udp (\d+)/.exec(readFileSync(join(dir, `app-${i}.txt`), 'utf8'))?.[1]);

  it('reports path, owner, session, start time and sockets of a program at C:\\Program Files\\Zoom\\bin\\Zoom.exe', async () => {
    // The raw protocol first: fields the snapshot does not carry (session, start time).
    const child = createNativeChild({ command: { file: 'wine', args: [collectorExe] }, timeoutMs: OWNERS_MS });
    try {
      const poll = parsePoll(await child.request('poll basic'));
      const zoom = poll.processes.find((p) => p.name === 'Zoom.exe');
      expect(zoom, JSON.stringify(poll.processes.map((p) => p.name))).toBeDefined();
      expect(zoom!.path).toBe(ZOOM);
      // Wine runs everything as the unix user, named DOMAIN\user like a local Windows account.
      expect(zoom!.user).toMatch(new RegExp(`^[^\\\\]+\\\\${userInfo().username}$`));
      expect(zoom!.session).toBe(1); // wine puts every process in session 1; Windows: the user's session
      expect(zoom!.startMs).toBeGreaterThanOrEqual(startedAt - 2000);
      expect(zoom!.startMs).toBeLessThanOrEqual(poll.now);
      const zoe = poll.processes.find((p) => p.path === ZOE);
      expect(zoe?.name).toBe('Zoë.exe'); // UTF-8 end to end, no code-page garbling

      const udp = poll.sockets.find((s) => s.protocol === 'udp' && s.localPort === udpPortOf(0));
      expect(udp?.pid).toBe(zoom!.pid);
      // `poll basic` has the flow without its owner; `tcp` names the owner.
      expect(poll.sockets.some((s) => s.protocol === 'tcp' && s.remotePort === listenPort && s.pid === 0)).toBe(true);
      const tcp = parseTcp(await child.request('tcp')).find((s) => s.pid === zoom!.pid && s.remotePort === listenPort);
      expect(tcp).toMatchObject({ remoteAddress: '127.0.0.1', state: 'ESTABLISHED' });

      // Command lines: only for the process asked, and only while its start time matches.
      const cmd = parseCmd(await child.request(`cmd ${zoom!.pid}:${zoom!.startMs} ${zoe!.pid}:1`));
      expect(cmd.get(zoom!.pid)).toBe(`"${ZOOM}" 127.0.0.1 ${listenPort} 300`);
      expect(cmd.has(zoe!.pid)).toBe(false); // wrong start time: a recycled pid lends nothing
      await expect(child.request('bogus')).resolves.toContain('"ok":0');
    } finally {
      child.close();
    }
  }, OWNERS_MS * 2);

  it('sees a TCP connection open and close between two polls (basic rows are reused only while the TCP counters stand still)', async () => {
    const child = createNativeChild({ command: { file: 'wine', args: [collectorExe] }, timeoutMs: OWNERS_MS });
    const flowsTo = async (request: string, port: number) => parsePoll(await child.request(request)).sockets
      .filter((s) => s.protocol === 'tcp' && s.remotePort === listenPort && s.localPort === port && s.state !== 'TIME_WAIT');
    try {
      await child.request('poll basic'); // a table to reuse, if nothing moves
      const { connect } = await import('node:net');
      const socket = await new Promise<Socket>((resolve) => {
        const c = connect(listenPort, '127.0.0.1', () => resolve(c));
        c.on('error', () => undefined);
      });
      const port = socket.localPort!;
      expect(await flowsTo('poll basic', port)).toEqual([expect.objectContaining({ localAddress: '127.0.0.1', state: 'ESTABLISHED' })]);
      expect(await flowsTo('poll basic reread', port)).toHaveLength(1);
      socket.destroy();
      for (const s of accepted) if (s.remotePort === port) s.destroy();
      await vi.waitFor(async () => expect(await flowsTo('poll basic', port)).toEqual([]), { timeout: 30_000, interval: 200 });
      expect(await flowsTo('poll basic reread', port)).toEqual([]);
    } finally {
      child.close();
    }
  }, OWNERS_MS);

  it('gives the agent a zoom detection whose evidence is the verified path and whose user is the Windows account', async () => {
    const catalog = compileForScan(undefined);
    const wanted = (name: string) => name === 'Zoom.exe';
    const [processes, connections] = await Promise.all([collectors.processes(wanted), collectors.connections((a) => a === '127.0.0.1')]);
    expect(fallbackCalls).toBe(0);
    expect(collectors.describe()).toBe('native (consultguard-collector.exe)');
    const zoom = processes.find((p) => p.name === 'Zoom.exe')!;
    expect(zoom).toMatchObject({ path: ZOOM, cmd: `"${ZOOM}" 127.0.0.1 ${listenPort} 300` });
    expect(processes.find((p) => p.name === 'Zoë.exe')?.cmd).toBeUndefined(); // not wanted: never read
    expect(connections).toContainEqual(expect.objectContaining({ pid: zoom.pid, protocol: 'tcp', remoteAddress: '127.0.0.1', remotePort: listenPort }));

    const snapshot: Snapshot = { v: 1, platform: 'win32', hostname: 'wine', takenAt: new Date().toISOString(), processes, connections };
    const d = detect(snapshot, catalog).find((x) => x.app === 'zoom');
    expect(d).toMatchObject({ app: 'zoom', state: 'running', user: zoom.user });
    expect(d!.pids).toContain(zoom.pid);
    // The path was read, checked and named (fastlist alone would say "name of Zoom").
    expect(d!.evidence).toContain(`process Zoom.exe (path ${ZOOM} matches Zoom install)`);
  }, OWNERS_MS * 2);

  it('restarts a collector that died, using the fallback meanwhile', async () => {
    await collectors.processes();
    const pid = collectors.pid();
    expect(pid).toBeDefined();
    process.kill(pid!, 'SIGKILL');
    await vi.waitFor(async () => {
      const before = fallbackCalls;
      await collectors.processes();
      expect(fallbackCalls).toBeGreaterThan(before);
    }, { timeout: 30_000, interval: 100 });
    expect(collectors.describe()).toMatch(/^fallback: ps-list and systeminformation \(native collector exited/);
    await vi.waitFor(async () => {
      const list = await collectors.processes();
      expect(list.some((p) => p.path === ZOOM)).toBe(true);
    }, { timeout: 60_000, interval: 300 });
    expect(collectors.pid()).not.toBe(pid);
    expect(collectors.describe()).toBe('native (consultguard-collector.exe)');
  });

  it('stops listing the program once it exits', async () => {
    apps[0]!.kill('SIGKILL');
    await vi.waitFor(async () => {
      const list = await collectors.processes();
      expect(list.some((p) => p.path === ZOE)).toBe(true);
      expect(list.some((p) => p.path === ZOOM)).toBe(false);
    }, { timeout: 30_000, interval: 300 });
  });
});

describe('native collector child and the agent process', () => {
  it('never keeps a one-shot command alive (scan --live, record): the process exits once its poll is done', async () => {
    // The built module in a plain node process, with the replaying collector (no wine needed).
    const root = packageRoot();
    const script = `
      const { createWindowsCollectors } = await import(${JSON.stringify(pathToFileURL(join(root, 'build', 'agent', 'collect', 'win-native.js')).href)});
      const c = createWindowsCollectors({
        command: { file: process.execPath, args: ${JSON.stringify([join(root, 'test', 'support', 'win', 'replay-collector.mjs'), join(root, 'test', 'fixtures', 'windows', 'collector-wine.jsonl.gz'), join(tempDir(), 'requests.log')])} },
        fallback: { processes: async () => { throw new Error('fallback used'); }, connections: async () => [] },
      });
      const list = await c.processes((n) => n === 'Zoom.exe');
      console.log(list.find((p) => p.name === 'Zoom.exe').path, c.describe());
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(out.trim()).toBe(`${ZOOM} native (consultguard-collector.exe)`);
    expect(code).toBe(0);
  });
});
