/**
 * Windows: processes and connections from consultguard-collector.exe (installers/windows/
 * collector.c), one long-lived child that answers each poll with every process (pid, parent,
 * name, full path, DOMAIN\user owner, session, start time) and the TCP/UDP tables with owning
 * pids: no PowerShell, no WMI, no console window. Command lines are asked for only for the
 * processes the catalog cares about (browsers and catalog names), once per process
 * (pid + start time), so a steady machine costs one request per poll.
 *
 * One poll serves both halves of a snapshot: processes() and connections() run side by
 * side (snapshot.ts) and share the collector's answer (`poll basic`); the TCP owners
 * (`tcp`) are asked for only when a flow goes to an address the catalog lists.
 *
 * Where the collector is missing or failing, ps-list (fastlist names, details from the old
 * CIM query) and systeminformation (netstat) do the work, and `describe()` says so; the
 * agent's `status` shows it. macOS and Linux never use this module.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe } from '../../shared/errors.js';
import { packageRoot } from '../../shared/paths.js';
import type { Logger } from '../../shared/log.js';
import type { Connection, ProcessInfo } from '../../shared/snapshot.js';
import { createNativeChild, type CollectorCommand, type NativeChild } from './win-native-child.js';
import { cmdRequests, parseCmd, parsePoll, parseTcp, processKey, toConnections, toProcessInfo, type NativePoll } from './win-native-parse.js';

export const COLLECTOR_EXE = 'consultguard-collector.exe';
/** Path of the collector to use instead of the installed one. */
export const COLLECTOR_ENV = 'CONSULTGUARD_COLLECTOR';
/** A program to run it with (`wine`, for tests on Linux); off Windows nothing else can run it. */
export const COLLECTOR_LAUNCHER_ENV = 'CONSULTGUARD_COLLECTOR_LAUNCHER';

/**
 * The collector beside the agent bundle (`C:\Program Files\ConsultGuard\app\` in the MSI
 * layout, next to agent.mjs: the package root, found from wherever this code was loaded,
 * which in the bundle is a chunk under app\chunks\), or the one the environment names.
 * Null when there is none (a development checkout): the fallback runs.
 */
export function collectorCommand(env: NodeJS.ProcessEnv = process.env, here = packageRoot()): CollectorCommand | null {
  const exe = env[COLLECTOR_ENV] || join(here, COLLECTOR_EXE);
  if (!existsSync(exe)) return null;
  const launcher = env[COLLECTOR_LAUNCHER_ENV];
  return launcher ? { file: launcher, args: [exe] } : { file: exe, args: [] };
}

export interface Fallback {
  processes: (wanted?: (name: string) => boolean) => Promise<ProcessInfo[]>;
  connections: (interesting?: (remoteAddress: string) => boolean) => Promise<Connection[]>;
}

export interface WindowsCollectorOptions {
  command: CollectorCommand | null;
  fallback: Fallback;
  log?: Logger;
  timeoutMs?: number;
  backoff?: { minMs: number; maxMs: number };
  /** How long one answer may serve the other half of the same snapshot. */
  shareMs?: number;
}

type Half = 'processes' | 'connections';

export function createWindowsCollectors(opts: WindowsCollectorOptions) {
  const child: NativeChild | null = opts.command && createNativeChild({ command: opts.command, timeoutMs: opts.timeoutMs, backoff: opts.backoff, log: opts.log });
  const shareMs = opts.shareMs ?? 2000;
  let shared: { at: number; poll: Promise<NativePoll>; used: Set<Half> } | null = null;
  /** Command lines by `pid:start`; null = asked, none given (exited, or not readable). */
  let cmds = new Map<string, string | null>();
  let lastNative = false;
  /** A failure the child does not report itself (an answer that does not parse), once per streak. */
  let answerError: string | null = null;
  function fellBack(err: unknown): void {
    if (child?.failure()) return; // the child logged it
    const reason = describe(err);
    if (answerError === null) opts.log?.warn({ reason }, 'native collector answer unusable; this poll uses ps-list and systeminformation');
    answerError = reason;
  }
  if (!child) opts.log?.warn({ expected: COLLECTOR_EXE }, 'native collector not found; polls use ps-list and systeminformation');

  /** The collector's answer for this snapshot: the other half's, if it has not used it yet. */
  function pollFor(half: Half): Promise<NativePoll> {
    if (!child) return Promise.reject(new Error('no native collector'));
    const fresh = shared && !shared.used.has(half) && Date.now() - shared.at < shareMs;
    if (shared && fresh) {
      shared.used.add(half);
      return shared.poll;
    }
    const poll = child.request('poll basic').then(parsePoll);
    shared = { at: Date.now(), poll, used: new Set([half]) };
    return poll;
  }

  async function commandLines(poll: NativePoll, wanted?: (name: string) => boolean): Promise<Map<string, string | null>> {
    const want = poll.processes.filter((p) => !wanted || wanted(p.name));
    const live = new Set(want.map(processKey));
    cmds = new Map([...cmds].filter(([k]) => live.has(k)));
    const missing = want.filter((p) => !cmds.has(processKey(p)));
    for (const line of cmdRequests(missing)) {
      const got = parseCmd(await child!.request(line));
      for (const key of line.slice(4).split(' ')) cmds.set(key, got.get(Number(key.split(':')[0])) ?? null);
    }
    return cmds;
  }

  return {
    async processes(wanted?: (name: string) => boolean): Promise<ProcessInfo[]> {
      try {
        const poll = await pollFor('processes');
        const known = await commandLines(poll, wanted);
        lastNative = true;
        answerError = null;
        return poll.processes.map((p) => toProcessInfo(p, known.get(processKey(p)) ?? undefined));
      } catch (err) {
        lastNative = false;
        fellBack(err);
        return opts.fallback.processes(wanted);
      }
    },
    async connections(interesting?: (remoteAddress: string) => boolean): Promise<Connection[]> {
      try {
        // Owners are asked for only when some flow goes where the catalog cares (as on
        // Linux): free on Windows, but under wine the owner lookup walks every fd table.
        const flows = toConnections((await pollFor('connections')).sockets, interesting);
        if (flows.length === 0) return flows;
        return toConnections(parseTcp(await child!.request('tcp')), interesting);
      } catch (err) {
        fellBack(err);
        return opts.fallback.connections(interesting);
      }
    },
    /** The collector in use, in plain words (the agent's `status` shows it). */
    describe(): string {
      if (!child) return `fallback: ps-list and systeminformation (${COLLECTOR_EXE} not found)`;
      const failure = child.failure();
      if (failure) return `fallback: ps-list and systeminformation (native collector ${failure})`;
      if (answerError) return `fallback: ps-list and systeminformation (${answerError})`;
      return lastNative ? `native (${COLLECTOR_EXE})` : `native (${COLLECTOR_EXE}, not polled yet)`;
    },
    /** Pid of the running collector process, if any. */
    pid: () => child?.pid(),
    close: () => child?.close(),
  };
}

export type WindowsCollectors = ReturnType<typeof createWindowsCollectors>;
