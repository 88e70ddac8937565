/**
 * The agent's side of the Windows native collector on output recorded under wine
 * (test/fixtures/windows/collector-wine.jsonl.gz, gzipped as the test machine had thousands of sockets open: consultguard-collector.exe answering `poll basic`,
 * `tcp` and `cmd` while the fake app ran as C:\Program Files\Zoom\bin\Zoom.exe and Zoë.exe,
 * connected to a listener on 127.0.0.1:57843; the other sockets are the test machine's own).
 * The collector child here is a node script replaying that recording through real pipes,
 * so the child manager, parser and merge run as they do on Windows; the real exe under wine
 * is test/integration/win-collector.test.ts.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { createConnectionCollector } from '../../agent/collect/connections.js';
import { createProcessCollector } from '../../agent/collect/processes.js';
import { parseCmd, parsePoll, parseTcp, toConnections } from '../../agent/collect/win-native-parse.js';
import { COLLECTOR_ENV, COLLECTOR_EXE, COLLECTOR_LAUNCHER_ENV, collectorCommand, createWindowsCollectors, type WindowsCollectors } from '../../agent/collect/win-native.js';
import { compileForScan } from '../../agent/commands/scan.js';
import { runStatus } from '../../agent/commands/status.js';
import { detect } from '../../agent/detect/index.js';
import type { Logger } from '../../shared/log.js';
import { packageRoot } from '../../shared/paths.js';
import type { Snapshot } from '../../shared/snapshot.js';
import { tempDir } from '../support/server.js';

const RECORDING = join(packageRoot(), 'test', 'fixtures', 'windows', 'collector-wine.jsonl.gz');
const REPLAY = join(packageRoot(), 'test', 'support', 'win', 'replay-collector.mjs');
const [POLL, TCP, CMD] = gunzipSync(readFileSync(RECORDING)).toString('utf8').split('\n') as [string, string, string];
const ZOOM = 'C:\\Program Files\\Zoom\\bin\\Zoom.exe';

function logger() {
  const warnings: unknown[] = [];
  const infos: unknown[] = [];
  const log = { warn: (...a: unknown[]) => warnings.push(a), info: (...a: unknown[]) => infos.push(a) } as unknown as Logger;
  return { log, warnings, infos };
}

let open: WindowsCollectors[] = [];
afterEach(() => {
  for (const c of open) c.close();
  open = [];
});

function replaying(mode = '', extra: Partial<Parameters<typeof createWindowsCollectors>[0]> = {}) {
  const dir = tempDir('cg-winnative-');
  const requests = join(dir, 'requests.log');
  writeFileSync(requests, '');
  let fallbacks = 0;
  const { log, warnings, infos } = logger();
  const c = createWindowsCollectors({
    command: { file: process.execPath, args: [REPLAY, RECORDING, requests, mode] },
    fallback: { processes: async () => (fallbacks++, [{ pid: 1, name: 'fastlist.exe' }]), connections: async () => (fallbacks++, []) },
    log,
    ...extra,
  });
  open.push(c);
  return { c, requests: () => readFileSync(requests, 'utf8').split('\n').filter(Boolean), fallbacks: () => fallbacks, warnings, infos };
}

describe('Windows native collector: parsing recorded output', () => {
  it('reads every field of a process, UTF-8 names included', () => {
    const poll = parsePoll(POLL);
    expect(poll.processes.find((p) => p.name === 'Zoom.exe')).toEqual({ pid: 516, ppid: 0, session: 1, startMs: 1796174371718, name: 'Zoom.exe', path: ZOOM, user: 'VM\\root' });
    expect(poll.processes.find((p) => p.pid === 524)?.name).toBe('Zoë.exe');
    expect(poll.sockets).toContainEqual({ protocol: 'udp', pid: 516, localAddress: '127.0.0.1', localPort: 45943 });
    expect(parseCmd(CMD).get(516)).toBe(`"${ZOOM}" 127.0.0.1 57843 300`);
  });

  it('keeps only TCP flows with a remote end: no listeners, TIME_WAIT or UDP (Windows has no UDP peer)', () => {
    // `poll basic` carries no owners; `tcp` does.
    expect(toConnections(parsePoll(POLL).sockets).every((c) => c.pid === undefined)).toBe(true);
    const conns = toConnections(parseTcp(TCP));
    expect(conns).toContainEqual({ protocol: 'tcp', pid: 516, localAddress: '127.0.0.1', localPort: expect.any(Number), remoteAddress: '127.0.0.1', remotePort: 57843, state: 'ESTABLISHED' });
    expect(conns.every((c) => c.protocol === 'tcp' && !['LISTEN', 'TIME_WAIT'].includes(c.state ?? ''))).toBe(true);
    // Sockets of non-wine processes have no owner under wine (pid 0): no pid, not "pid 0".
    expect(conns.some((c) => c.pid === undefined)).toBe(true);
    expect(conns.some((c) => c.pid === 0)).toBe(false);
    expect(toConnections(parseTcp(TCP), () => false)).toEqual([]);
  });

  it('maps IPv4-mapped IPv6 addresses to IPv4 so address ranges match', () => {
    const line = JSON.stringify({ ok: 1, now: 1, p: [], tcp: [[7, '::ffff:10.0.0.2', 5000, '::ffff:170.114.10.1', 8801, 'ESTABLISHED']], udp: [] });
    expect(toConnections(parsePoll(line).sockets)[0]).toMatchObject({ pid: 7, remoteAddress: '170.114.10.1' });
  });

  it('names what is wrong with a bad answer', () => {
    expect(() => parsePoll('garbage')).toThrow(/not JSON/);
    expect(() => parsePoll('{"ok":0,"error":"NtQuerySystemInformation failed"}')).toThrow(/could not answer poll: NtQuerySystemInformation failed/);
    expect(() => parsePoll('{"ok":1,"now":1,"p":[[1,2]],"tcp":[],"udp":[]}')).toThrow(/does not fit its format/);
  });
});

describe('Windows native collector: the long-lived child', () => {
  it('serves both halves of a snapshot from one poll and asks command lines once per process', async () => {
    const { c, requests, fallbacks } = replaying();
    const wanted = (n: string) => n === 'Zoom.exe';
    const loopback = (a: string) => a === '127.0.0.1';
    const [procs, conns] = await Promise.all([c.processes(wanted), c.connections(loopback)]);
    // Owners (`tcp`) only because a flow went to an address asked about.
    expect(requests().sort()).toEqual(['cmd 516:1796174371718', 'poll basic', 'tcp']);
    expect(fallbacks()).toBe(0);
    expect(c.describe()).toBe(`native (${COLLECTOR_EXE})`);
    const zoom = procs.find((p) => p.pid === 516);
    expect(zoom).toEqual({ pid: 516, ppid: 0, name: 'Zoom.exe', path: ZOOM, cmd: `"${ZOOM}" 127.0.0.1 57843 300`, user: 'VM\\root' });
    expect(procs.find((p) => p.pid === 524)?.cmd).toBeUndefined();
    expect(conns).toContainEqual(expect.objectContaining({ pid: 516, remotePort: 57843 }));

    const snapshot: Snapshot = { v: 1, platform: 'win32', hostname: 'replay', takenAt: '2026-12-02T09:00:00Z', processes: procs, connections: conns };
    const d = detect(snapshot, compileForScan(undefined)).find((x) => x.app === 'zoom');
    expect(d).toMatchObject({ state: 'running', user: 'VM\\root', pids: [516] });
    expect(d!.evidence).toContain('process Zoom.exe (path C:\\Program Files\\Zoom\\bin\\Zoom.exe matches Zoom install)');

    // The same process (pid and start time): its command line is known; no flow of interest: no owners.
    await Promise.all([c.processes(wanted), c.connections(() => false)]);
    expect(requests().slice(3)).toEqual(['poll basic']);
  });

  it('falls back on a timeout, warns once per streak, and restarts after the back-off', async () => {
    const { c, fallbacks, warnings, requests } = replaying('silent', { timeoutMs: 1000, backoff: { minMs: 100, maxMs: 100 } });
    expect(await c.processes()).toEqual([{ pid: 1, name: 'fastlist.exe' }]);
    expect(c.describe()).toBe('fallback: ps-list and systeminformation (native collector no answer within 1000 ms)');
    await c.processes();
    await new Promise((r) => setTimeout(r, 150)); // past the back-off: a new child is started
    await c.processes();
    expect(fallbacks()).toBe(3);
    expect(warnings).toHaveLength(1);
    expect(requests().filter((r) => r === 'poll basic').length).toBeGreaterThanOrEqual(2); // a second child was asked
  });

  it('falls back on an answer that does not parse, and says why', async () => {
    const { c, fallbacks, warnings } = replaying('garbage');
    await c.processes();
    await c.processes();
    expect(fallbacks()).toBe(2);
    expect(warnings).toHaveLength(1);
    expect(c.describe()).toMatch(/^fallback: ps-list and systeminformation \(the native collector answered poll with a line that is not JSON/);
  });

  it('falls back when the collector cannot be started', async () => {
    const { log, warnings } = logger();
    let fallbacks = 0;
    const c = createWindowsCollectors({
      command: { file: join(tempDir(), 'missing.exe'), args: [] },
      fallback: { processes: async () => (fallbacks++, []), connections: async () => (fallbacks++, []) },
      log,
    });
    open.push(c);
    await c.processes();
    await c.connections();
    expect(fallbacks).toBe(2);
    expect(c.describe()).toMatch(/native collector cannot start .*missing\.exe/);
    expect(warnings).toHaveLength(1);
  });
});

describe('Windows native collector: where it is found', () => {
  it('beside the bundle, or where the environment says, or nowhere (fallback)', () => {
    const app = tempDir('cg-app-');
    expect(collectorCommand({}, app)).toBeNull();
    writeFileSync(join(app, COLLECTOR_EXE), '');
    expect(collectorCommand({}, app)).toEqual({ file: join(app, COLLECTOR_EXE), args: [] });
    const other = join(tempDir(), 'sub');
    mkdirSync(other);
    const exe = join(other, 'c.exe');
    writeFileSync(exe, '');
    expect(collectorCommand({ [COLLECTOR_ENV]: exe, [COLLECTOR_LAUNCHER_ENV]: 'wine' }, app)).toEqual({ file: 'wine', args: [exe] });
    expect(collectorCommand({ [COLLECTOR_ENV]: join(other, 'none.exe') }, app)).toBeNull();

    const { log, warnings } = logger();
    const c = createWindowsCollectors({ command: null, fallback: { processes: async () => [], connections: async () => [] }, log });
    expect(c.describe()).toBe(`fallback: ps-list and systeminformation (${COLLECTOR_EXE} not found)`);
    expect(warnings).toHaveLength(1);
  });

  it('is what processes.ts and connections.ts use on win32 only', () => {
    const c = createWindowsCollectors({ command: null, fallback: { processes: async () => [], connections: async () => [] } });
    expect(createProcessCollector('win32', c)).toBe(c.processes);
    expect(createConnectionCollector('win32', c)).toBe(c.connections);
    expect(createProcessCollector('linux', c)).not.toBe(c.processes);
    expect(createConnectionCollector('darwin', c)).not.toBe(c.connections);
  });
});

const HEALTH = {
  pollMs: 12, polls: 3, collectErrors: 0, stateErrors: 0, lastError: null, outboxDepth: 0, outboxBytes: 0,
  dropped: 0, torn: 0, rssMb: 50, cpuUserMs: 10, cpuSystemMs: 5,
};

describe('consultguard-agent status', () => {
  it('names the collector the running agent uses (native or fallback)', () => {
    const state = tempDir('cg-status-');
    writeFileSync(join(state, 'identity.json'), JSON.stringify({ agentId: '3f0c9a4e-6a51-4c7e-9a43-2d6f1b8e5c10', token: 't' }));
    const text = (collector: string | undefined, json: boolean) => {
      writeFileSync(join(state, 'status.json'), JSON.stringify({
        at: '2026-12-02T09:00:00Z', pid: process.pid, connected: true, monitoring: true, serverUrl: 'wss://guard', policyVersion: null, open: [],
        // The whole health figures the agent writes (shared/agent-state.ts HealthFigures), the collector optional.
        health: { ...HEALTH, ...(collector === undefined ? {} : { collector }) },
      }));
      let out = '';
      runStatus(state, json, new Date('2026-12-02T09:00:00Z'), { write: (c: string) => ((out += c), true) } as unknown as NodeJS.WritableStream);
      return out;
    };
    expect(text(`native (${COLLECTOR_EXE})`, false)).toContain(`  Collector:       native (${COLLECTOR_EXE})\n`);
    expect(JSON.parse(text('fallback: ps-list and systeminformation (consultguard-collector.exe not found)', true)).collector)
      .toBe('fallback: ps-list and systeminformation (consultguard-collector.exe not found)');
    expect(text(undefined, false)).not.toContain('Collector:'); // an agent from before this field
  });
});
