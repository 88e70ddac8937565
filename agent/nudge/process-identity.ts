/**
 * Enforce mode must close the app the detector saw, not whatever process holds its pid by
 * the time the grace period is over (pids are reused). So when a violation's event reaches
 * the nudger (the same poll that detected it), each pid's start time and executable path
 * are recorded, and before every signal enforce reads them again: a pid whose start time
 * or path changed is another process and is left alone.
 *
 * - Linux: /proc/PID/stat field 22 (start time in clock ticks since boot) and the
 *   /proc/PID/exe link; real processes in the tests.
 * - macOS: `/bin/ps -o lstart= -o comm= -p PID` (start time to the second, full path);
 *   replayed from recorded output through parsePsLine.
 * - Windows: Win32_Process CreationDate (to the microsecond) and ExecutablePath from
 *   System32's PowerShell; replayed through parseCimIdentity.
 */
import { execFile } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import { systemTool } from '../system-tools.js';

export interface ProcessIdentity {
  pid: number;
  /** OS-specific text that only the same process has for this pid: its start time. */
  started: string;
  /** The executable, when the OS tells it (null: unknown, e.g. a kernel thread or no permission). */
  path: string | null;
}

export type Runner = (file: string, args: string[]) => Promise<string>;

const defaultRunner: Runner = (file, args) =>
  new Promise((resolve, reject) => execFile(file, args, { windowsHide: true, timeout: 10_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout))));

/** Linux: start time from /proc/PID/stat (the fields after the command name, which may hold spaces and parentheses). */
export function parseProcStat(text: string): string | null {
  const close = text.lastIndexOf(')');
  if (close < 0) return null;
  const fields = text.slice(close + 2).split(' ');
  // After "pid (comm) " come state (field 3) ... starttime (field 22): index 22 - 3 = 19.
  const start = fields[19];
  return start && /^\d+$/.test(start) ? start : null;
}

/** macOS: one line of `ps -o lstart= -o comm=`: a 24-character date, then the path. */
export function parsePsLine(line: string): { started: string; path: string | null } | null {
  const m = /^\s*([A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4})\s+(.*)$/.exec(line.replace(/\n$/, ''));
  if (!m) return null;
  return { started: m[1]!, path: m[2]?.trim() || null };
}

/** Windows: the PowerShell below prints {"started": "...", "path": "..."} or nothing for a gone pid. */
export function parseCimIdentity(stdout: string): { started: string; path: string | null } | null {
  const text = stdout.trim();
  if (!text) return null;
  const v = JSON.parse(text) as { started?: unknown; path?: unknown };
  if (typeof v.started !== 'string' || !v.started) return null;
  return { started: v.started, path: typeof v.path === 'string' && v.path ? v.path : null };
}

export const cimIdentityScript = (pid: number): string =>
  `$p = Get-CimInstance Win32_Process -Filter 'ProcessId=${Math.trunc(pid)}'; if ($p) { [pscustomobject]@{ started = $p.CreationDate.ToUniversalTime().ToString('o'); path = $p.ExecutablePath } | ConvertTo-Json -Compress }`;

export async function readProcessIdentity(pid: number, platform: NodeJS.Platform = process.platform, run: Runner = defaultRunner): Promise<ProcessIdentity | null> {
  try {
    if (platform === 'linux') {
      const started = parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
      if (!started) return null;
      let path: string | null = null;
      try {
        path = readlinkSync(`/proc/${pid}/exe`);
      } catch {
        // a kernel thread, or no permission: the start time alone still tells reuse apart
      }
      return { pid, started, path };
    }
    if (platform === 'darwin') {
      const parsed = parsePsLine(await run(systemTool('ps', platform), ['-o', 'lstart=', '-o', 'comm=', '-p', String(pid)]));
      return parsed && { pid, ...parsed };
    }
    if (platform === 'win32') {
      const parsed = parseCimIdentity(await run(systemTool('powershell', platform), ['-NoProfile', '-NonInteractive', '-Command', cimIdentityScript(pid)]));
      return parsed && { pid, ...parsed };
    }
  } catch {
    // gone (ENOENT, ps exit 1) or unreadable: no identity
  }
  return null;
}

/** Is `now` the process that was recorded? Start time must match; paths too when both are known. */
export function sameProcess(recorded: ProcessIdentity, now: ProcessIdentity | null): boolean {
  if (!now || now.pid !== recorded.pid || now.started !== recorded.started) return false;
  return recorded.path === null || now.path === null || recorded.path === now.path;
}
