/**
 * agent.poll_cpu_ms_win (CONTRACTS section 5): CPU of one Windows poll by the native
 * collector under wine, beside ps-list (fastlist.exe) plus systeminformation (netstat -nao)
 * doing the same work in the official node.exe under wine, in the same prefix and run.
 *
 * How CPU is counted: each side runs under cpu-meter (a child subreaper, so the Windows
 * processes wine starts with a double fork are counted too), plus what the prefix's
 * long-lived processes (wineserver, winedevice.exe serving the socket tables, ...) spent
 * meanwhile. Each side runs once with 1 poll and once with 1 + N polls; the difference over
 * N is the cost of one steady-state poll without start-up; native runs twice, reusing the
 * TCP rows while the TCP counters stand still (what the agent asks) and reading the tables
 * every poll (`poll basic reread`, reported beside it). Native also pays the agent's
 * JSON parsing, measured in this process. Native asks what the agent asks when no flow goes
 * to a catalog range (`poll basic`: processes, TCP without owners, UDP with owners); the
 * TCP owner table (`tcp`) follows only when one does. Under wine the TCP table itself is
 * the expensive part (~0.4 ms per socket: wine's nsiproxy looks up owners by walking every
 * wine process's fds, even for the basic table), while wine's netstat prints nothing for
 * `-nao`, so the baseline's connection half is only a process start: under wine the ratio
 * flatters the baseline. On Windows both tables are kernel calls. Median over the repetitions. Wine is not Windows:
 * only the ratio means anything.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, copyFileSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { parsePoll, toConnections } from '../../agent/collect/win-native-parse.js';
import { FASTLIST } from '../../installers/app.js';
import { bundleAgent } from '../../installers/bundle.js';
import { hasTool, run } from '../../installers/exec.js';
import { fetchRuntime } from '../../installers/runtimes.js';
import { packageRoot } from '../../shared/paths.js';
import { createWinePrefix, type WinePrefix } from '../installers/wine.js';
import { tempDir } from '../support/server.js';
import { buildCollector, buildFakeApp } from '../support/win/programs.js';
import { procCpuMs } from './proc.js';
import { median, round, type BenchResults } from './results.js';

const APPS = 8;
const EXTRA_SOCKETS = 200;
const POLLS = 10;
const REPEATS = 3;

/** CPU (ms) the prefix's long-lived wine processes have used so far, by Linux pid. */
function prefixCpu(prefix: string, exclude: Set<number>): Map<number, number> {
  const out = new Map<number, number>();
  for (const e of readdirSync('/proc')) {
    const pid = Number(e);
    if (!Number.isInteger(pid) || exclude.has(pid)) continue;
    try {
      if (!readFileSync(`/proc/${e}/environ`, 'latin1').split('\0').includes(`WINEPREFIX=${prefix}`)) continue;
      out.set(pid, procCpuMs(pid));
    } catch {
      // exited, or not readable
    }
  }
  return out;
}

function delta(before: Map<number, number>, after: Map<number, number>): number {
  let sum = 0;
  for (const [pid, ms] of after) sum += ms - (before.get(pid) ?? ms);
  return sum;
}

/**
 * Under wine the TCP table is emulated from every socket of the Linux host, so on a shared
 * machine the figure would follow whatever else runs. The measurement therefore runs in a
 * network namespace of its own (`unshare -n`, loopback only) with a fixed load: the fake
 * apps and EXTRA_SOCKETS connections. Where namespaces are not allowed it runs on the host
 * and says so.
 */
export async function benchWinPoll(): Promise<BenchResults> {
  const missing = ['wine', 'wineboot', 'wineserver', 'x86_64-w64-mingw32-gcc', 'cc'].filter((t) => !hasTool(t));
  if (missing.length) {
    process.stderr.write(`bench: agent.poll_cpu_ms_win skipped (missing ${missing.join(', ')})\n`);
    return {};
  }
  // Downloads (npm pack) need the host network: fetch the runtime before entering the namespace.
  await fetchRuntime('win-x64', join(packageRoot(), '.cache'));
  const out = join(tempDir('cg-bench-win-ns-'), 'result.json');
  const inside = join(packageRoot(), 'build', 'test', 'bench', 'win-inside.js');
  const isolated = hasTool('unshare') && hasTool('ip')
    ? await new Promise<boolean>((resolve) => {
      const child = spawn('unshare', ['-n', 'sh', '-c', 'ip link set lo up && exec "$0" "$@"', process.execPath, inside, out], { stdio: ['ignore', 'inherit', 'inherit'] });
      child.on('error', () => resolve(false)).on('exit', (code) => resolve(code === 0));
    })
    : false;
  if (isolated) return JSON.parse(readFileSync(out, 'utf8')) as BenchResults;
  process.stderr.write('bench: agent.poll_cpu_ms_win runs on the host network (no network namespace here): the figure follows the host\'s socket count\n');
  return measureWinPoll('the host network namespace, with its own sockets');
}

/** The measurement itself; `where` says which network namespace it ran in. */
export async function measureWinPoll(where: string): Promise<BenchResults> {
  const dir = tempDir('cg-bench-win-');
  const meter = join(dir, 'cpu-meter');
  await run('cc', ['-O2', '-o', meter, join(packageRoot(), 'test', 'bench', 'cpu-meter.c')]);
  const [collector, fake, runtime, wine] = await Promise.all([
    buildCollector(dir), buildFakeApp(dir), fetchRuntime('win-x64', join(packageRoot(), '.cache')), createWinePrefix(),
  ]);
  // The baseline: the agent's old Windows path, bundled like the agent with fastlist beside it.
  const baselineJs = join(dir, 'baseline', 'baseline.mjs');
  mkdirSync(join(dir, 'baseline', 'vendor'), { recursive: true });
  await bundleAgent(join(packageRoot(), 'test', 'bench', 'win-baseline-entry.ts'), baselineJs);
  copyFileSync(join(packageRoot(), 'node_modules', 'ps-list', 'vendor', FASTLIST), join(dir, 'baseline', 'vendor', FASTLIST));

  const env = { ...process.env, WINEPREFIX: wine.prefix, WINEDEBUG: '-all', WINEDLLOVERRIDES: 'mscoree,mshtml=', DISPLAY: '' };
  const accepted: Socket[] = [];
  const listener = createServer((s) => (s.on('error', () => undefined), accepted.push(s)));
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  const port = (listener.address() as { port: number }).port;
  const apps: ChildProcess[] = [];
  const extras: Socket[] = [];
  try {
    // A few "video apps" with a TCP connection and a UDP socket each, in the Zoom folder.
    const bin = join(wine.driveC, 'Program Files', 'Zoom', 'bin');
    mkdirSync(bin, { recursive: true });
    copyFileSync(fake, join(bin, 'Zoom.exe'));
    for (let i = 0; i < APPS; i++) {
      const out = openSync(join(dir, `app-${i}.txt`), 'w');
      apps.push(spawn('wine', ['C:\\Program Files\\Zoom\\bin\\Zoom.exe', '127.0.0.1', String(port), '900'], { env, stdio: ['ignore', out, out] }));
      closeSync(out);
    }
    for (let t = 0; t < 600 && readdirSync(dir).filter((f) => f.startsWith('app-') && readFileSync(join(dir, f), 'utf8').includes('udp')).length < APPS; t++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const exclude = new Set(apps.map((a) => a.pid!));
    // A fixed number of flows beside the apps' own, like agent.poll_cpu_ms on Linux (owner: this node, pid 0 to wine).
    const extra: Socket[] = await Promise.all(Array.from({ length: EXTRA_SOCKETS }, () => new Promise<Socket>((r) => {
      const s = connect(port, '127.0.0.1', () => r(s));
      s.on('error', () => undefined);
    })));
    extras.push(...extra);

    /** CPU (ms) of one metered run of `args` under wine with `polls` polls. */
    const metered = async (args: string[], stdinText: string | null): Promise<{ cpuMs: number; out: string }> => {
      const outFile = join(dir, 'run-out.txt');
      const cpuFile = join(dir, 'run-cpu.txt');
      const inFile = join(dir, 'run-in.txt');
      writeFileSync(inFile, stdinText ?? '');
      const inFd = openSync(inFile, 'r');
      const outFd = openSync(outFile, 'w');
      const before = prefixCpu(wine.prefix, exclude);
      const child = spawn(meter, [cpuFile, 'wine', ...args], { env, stdio: [inFd, outFd, outFd] });
      closeSync(inFd);
      closeSync(outFd);
      await new Promise<void>((resolve, reject) => child.on('error', reject).on('exit', () => resolve()));
      const after = prefixCpu(wine.prefix, exclude);
      return { cpuMs: Number(readFileSync(cpuFile, 'utf8')) / 1000 + delta(before, after), out: readFileSync(outFile, 'utf8') };
    };
    // What the agent asks each poll when no flow goes to a catalog range (the usual case, and
    // what agent.poll_cpu_ms measures on Linux): `poll basic`, no `tcp` owner table.
    // `poll basic` reuses the TCP rows while the TCP counters stand still (collector.c,
    // list_tcp_basic), as they do here between polls; `poll basic reread` reads the tables
    // each time: what a machine whose connections open or close every poll pays.
    const native = (polls: number, request = 'poll basic') => metered([collector], `${request}\n`.repeat(polls));
    const baseline = (polls: number) => metered([runtime.binary, baselineJs, String(polls)], null);

    const ours: number[] = [];
    const reread: number[] = [];
    const theirs: number[] = [];
    let rows = { processes: 0, sockets: 0 };
    let parseMs = 0;
    let baselineSaw = '';
    await native(1); // warm the prefix's caches on both sides before measuring
    await baseline(1);
    for (let r = 0; r < REPEATS; r++) {
      const [n1, nN] = [await native(1), await native(1 + POLLS)];
      const lines = nN.out.trim().split('\n');
      const c = process.cpuUsage();
      for (const line of lines) toConnections(parsePoll(line).sockets);
      const used = process.cpuUsage(c);
      parseMs = (used.user + used.system) / 1000 / lines.length;
      const last = parsePoll(lines.at(-1)!);
      rows = { processes: last.processes.length, sockets: last.sockets.length };
      ours.push((nN.cpuMs - n1.cpuMs) / POLLS + parseMs);
      const [r1, rN] = [await native(1, 'poll basic reread'), await native(1 + POLLS, 'poll basic reread')];
      reread.push((rN.cpuMs - r1.cpuMs) / POLLS + parseMs);
      const [b1, bN] = [await baseline(1), await baseline(1 + POLLS)];
      if (!bN.out.includes('polls done')) throw new Error(`the baseline under wine failed: ${bN.out.slice(-300)}`);
      baselineSaw = /polls done: (\d+ processes, \d+ connections)/.exec(bN.out)?.[1] ?? baselineSaw;
      theirs.push((bN.cpuMs - b1.cpuMs) / POLLS);
    }
    const value = median(ours);
    const base = median(theirs);
    const rereadMs = median(reread);
    return {
      'agent.poll_cpu_ms_win': {
        value: round(value), unit: 'ms', baseline: round(base), ratio: round(value / base),
        note: `median CPU of one steady-state poll under wine in ${where} (${rows.processes} processes, ${rows.sockets} sockets), counting the Windows processes each side starts and the prefix's wineserver/winedevice time; native = consultguard-collector.exe "poll basic" (no flow to a catalog range, so no TCP owner table; the TCP rows reused while the TCP counters stand still, as in this fixed load) + ${round(parseMs)} ms of agent JSON parsing; with the TCP tables read every poll ("poll basic reread": a machine whose connections open or close between polls) ${round(rereadMs)} ms, ratio ${round(rereadMs / base)} (per run ${reread.map((x) => round(x)).join('/')}); baseline = ps-list (fastlist.exe) + systeminformation.networkConnections (netstat -nao) in node.exe ${runtime.id}, which saw ${baselineSaw} (wine's netstat prints nothing for -nao: the baseline never reads a socket table, so it is cheaper than on Windows); ${POLLS}-poll difference runs, ${REPEATS} repeats (per-run native ${ours.map((x) => round(x)).join('/')} vs ${theirs.map((x) => round(x)).join('/')} ms). Wine is not Windows: only the ratio means anything.`,
      },
    };
  } finally {
    for (const a of apps) a.kill('SIGKILL');
    for (const s of [...accepted, ...extras]) s.destroy();
    listener.close();
    await destroyQuietly(wine);
  }
}

async function destroyQuietly(wine: WinePrefix): Promise<void> {
  await wine.destroy().catch(() => undefined);
}
