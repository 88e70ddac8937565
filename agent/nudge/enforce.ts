/**
 * Enforce mode's last step: close the offending app's processes (the pids of the
 * violation's latest event). A polite request first (SIGTERM; taskkill without /F, which
 * asks windows to close), then force after a grace period, so the app can save state.
 */
import { execFile } from 'node:child_process';

export interface CloseResult {
  closed: number[];
  survivors: number[];
}

export interface CloseOptions {
  platform?: NodeJS.Platform;
  graceMs?: number;
  kill?: (pid: number, signal: NodeJS.Signals | 0) => void;
  run?: (cmd: string, args: string[]) => Promise<void>;
}

/** taskkill command lines for one pid: polite, then forced; /T takes the app's child processes too. */
export function taskkillArgs(pid: number, force: boolean): string[] {
  return ['/PID', String(pid), '/T', ...(force ? ['/F'] : [])];
}

const runQuietly = (cmd: string, args: string[]) => new Promise<void>((resolve) => execFile(cmd, args, { windowsHide: true, timeout: 10_000 }, () => resolve()));

/** Never the agent itself, init/System, or nonsense. */
const closable = (pid: number) => Number.isInteger(pid) && pid > 4 && pid !== process.pid && pid !== process.ppid;

export async function closeProcesses(pids: number[], opts: CloseOptions = {}): Promise<CloseResult> {
  const platform = opts.platform ?? process.platform;
  const kill = opts.kill ?? ((pid, sig) => process.kill(pid, sig));
  const run = opts.run ?? runQuietly;
  const graceMs = opts.graceMs ?? 5000;
  const targets = [...new Set(pids)].filter(closable);
  const alive = (pid: number) => {
    try {
      kill(pid, 0);
      return true;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'EPERM';
    }
  };
  const signal = async (pid: number, force: boolean) => {
    if (platform === 'win32') return run('taskkill', taskkillArgs(pid, force));
    try {
      kill(pid, force ? 'SIGKILL' : 'SIGTERM');
    } catch {
      // already gone
    }
  };
  const waitGone = async (ms: number) => {
    const deadline = Date.now() + ms;
    while (targets.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  };
  for (const pid of targets) await signal(pid, false);
  await waitGone(graceMs);
  for (const pid of targets.filter(alive)) await signal(pid, true);
  await waitGone(2000);
  const survivors = targets.filter(alive);
  return { closed: targets.filter((p) => !survivors.includes(p)), survivors };
}
