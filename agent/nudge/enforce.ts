/**
 * Enforce mode's last step: close the offending app's processes (the pids of the
 * violation's latest event). A polite request first (SIGTERM; taskkill without /F, which
 * asks Windows to close the app's windows), then force after a grace period, so the app
 * can save state. Before each signal the pid is checked to still be the process the
 * detector saw (start time and executable, process-identity.ts): a pid reused by another
 * program, or one that exec'd something else, is never signalled.
 *
 * Signals: process.kill on Linux and macOS (no tool to look up); on Windows
 * %SystemRoot%\System32\taskkill.exe by absolute path (system-tools.ts).
 */
import { execFile } from 'node:child_process';
import { systemTool } from '../system-tools.js';
import { readProcessIdentities, sameProcess, type ProcessIdentity } from './process-identity.js';

export interface CloseResult {
  closed: number[];
  survivors: number[];
  /** Pids that are no longer the app (reused or exec'd): left alone. */
  changed: number[];
}

export interface CloseOptions {
  platform?: NodeJS.Platform;
  graceMs?: number;
  kill?: (pid: number, signal: NodeJS.Signals | 0) => void;
  run?: (cmd: string, args: string[]) => Promise<void>;
  identify?: (pids: number[]) => Promise<Map<number, ProcessIdentity>>;
}

/** taskkill command lines for one pid: polite, then forced; /T takes the app's child processes too. */
export function taskkillArgs(pid: number, force: boolean): string[] {
  return ['/PID', String(pid), '/T', ...(force ? ['/F'] : [])];
}

const runQuietly = (cmd: string, args: string[]) => new Promise<void>((resolve) => execFile(cmd, args, { windowsHide: true, timeout: 10_000 }, () => resolve()));

/** Never the agent itself, init/System, or nonsense. */
const closable = (pid: number) => Number.isInteger(pid) && pid > 4 && pid !== process.pid && pid !== process.ppid;

export async function closeProcesses(recorded: ProcessIdentity[], opts: CloseOptions = {}): Promise<CloseResult> {
  const platform = opts.platform ?? process.platform;
  const kill = opts.kill ?? ((pid, sig) => process.kill(pid, sig));
  const run = opts.run ?? runQuietly;
  const identify = opts.identify ?? ((pids: number[]) => readProcessIdentities(pids, platform));
  const graceMs = opts.graceMs ?? 5000;
  const seen = new Set<number>();
  let targets = recorded.filter((r) => closable(r.pid) && !seen.has(r.pid) && seen.add(r.pid));
  const changed: number[] = [];
  const alive = (pid: number) => {
    try {
      kill(pid, 0);
      return true;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'EPERM';
    }
  };
  /** Keeps only the targets still alive and still the recorded process; the rest are gone or changed. */
  const stillTheApp = async () => {
    const running = targets.filter((t) => alive(t.pid));
    const now = running.length > 0 ? await identify(running.map((t) => t.pid)) : new Map<number, ProcessIdentity>();
    const keep: ProcessIdentity[] = [];
    for (const t of running) {
      if (sameProcess(t, now.get(t.pid) ?? null)) keep.push(t);
      else if (alive(t.pid)) changed.push(t.pid); // still there, but another process
    }
    return keep;
  };
  const signal = async (pid: number, force: boolean) => {
    if (platform === 'win32') return run(systemTool('taskkill', platform), taskkillArgs(pid, force));
    try {
      kill(pid, force ? 'SIGKILL' : 'SIGTERM');
    } catch {
      // already gone
    }
  };
  const waitGone = async (ms: number) => {
    const deadline = Date.now() + ms;
    while (targets.some((t) => alive(t.pid)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  };
  const all = targets.map((t) => t.pid);
  targets = await stillTheApp();
  for (const t of targets) await signal(t.pid, false);
  await waitGone(graceMs);
  // Checked again: in the grace period a process may have exited and its pid been reused.
  targets = await stillTheApp();
  for (const t of targets) await signal(t.pid, true);
  await waitGone(2000);
  const survivors = targets.filter((t) => alive(t.pid)).map((t) => t.pid);
  return { closed: all.filter((p) => !survivors.includes(p) && !changed.includes(p)), survivors, changed: [...new Set(changed)] };
}
