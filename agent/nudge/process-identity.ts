/**
 * Enforce mode must close the app the detector saw, not whatever process holds its pid by
 * the time the grace period is over (pids are reused). So when a violation's event reaches
 * the nudger (the same poll that detected it), each pid's start time and executable path
 * are recorded, and before every signal enforce reads them again: a pid whose start time
 * or path changed is another process and is left alone.
 *
 * - Linux: /proc/PID/stat field 22 (start time in clock ticks since boot) and the
 *   /proc/PID/exe link; real processes in the tests.
 * - macOS: `/bin/ps -o pid= -o lstart= -o comm= -p PIDS` (start time to the second, full path);
 *   replayed through parsePsLine (format from the BSD ps manual; no Mac here).
 * - Windows: Win32_Process CreationDate (to the microsecond) and ExecutablePath from
 *   System32's PowerShell, one query for all pids; replayed through parseCimIdentities.
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

// LC_ALL=C: ps prints lstart in the C locale's English date, whatever the machine's language.
const defaultRunner: Runner = (file, args) =>
  new Promise((resolve, reject) => execFile(file, args, { windowsHide: true, timeout: 10_000, env: { ...process.env, LC_ALL: 'C' } }, (err, stdout) => (err ? reject(err) : resolve(stdout))));

/** Linux: start time from /proc/PID/stat (the fields after the command name, which may hold spaces and parentheses). */
export function parseProcStat(text: string): string | null {
  const close = text.lastIndexOf(')');
  if (close < 0) return null;
  const fields = text.slice(close + 2).split(' ');
  // After "pid (comm) " come state (field 3) ... starttime (field 22): index 22 - 3 = 19.
  const start = fields[19];
  return start && /^\d+$/.test(start) ? start : null;
}

/** macOS: one line of `ps -o pid= -o lstart= -o comm=`: the pid, a 24-character date, then the path. */
export function parsePsLine(line: string): ProcessIdentity | null {
  const m = /^\s*(\d+)\s+([A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4})\s+(.*)$/.exec(line.replace(/\r?\n$/, ''));
  if (!m) return null;
  return { pid: Number(m[1]), started: m[2]!, path: m[3]?.trim() || null };
}

/** Windows: the PowerShell below prints one {pid, started, path} object, an array of them, or nothing. */
export function parseCimIdentities(stdout: string): ProcessIdentity[] {
  const text = stdout.trim();
  if (!text) return [];
  const parsed = JSON.parse(text) as unknown;
  const out: ProcessIdentity[] = [];
  for (const v of (Array.isArray(parsed) ? parsed : [parsed]) as Array<{ pid?: unknown; started?: unknown; path?: unknown }>) {
    if (typeof v.pid !== 'number' || typeof v.started !== 'string' || !v.started) continue;
    out.push({ pid: v.pid, started: v.started, path: typeof v.path === 'string' && v.path ? v.path : null });
  }
  return out;
}

export const cimIdentityScript = (pids: number[]): string =>
  `Get-CimInstance Win32_Process -Filter '${pids.map((p) => `ProcessId=${Math.trunc(p)}`).join(' OR ')}' | ForEach-Object { [pscustomobject]@{ pid = $_.ProcessId; started = $_.CreationDate.ToUniversalTime().ToString('o'); path = $_.ExecutablePath } } | ConvertTo-Json -Compress`;

function linuxIdentity(pid: number): ProcessIdentity | null {
  try {
    const started = parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    if (!started) return null;
    let path: string | null = null;
    try {
      // An app updated on disk while running shows "PATH (deleted)": still the same program.
      path = readlinkSync(`/proc/${pid}/exe`).replace(/ \(deleted\)$/, '');
    } catch {
      // a kernel thread, or no permission: the start time alone still tells reuse apart
    }
    return { pid, started, path };
  } catch {
    return null; // gone
  }
}

/** Identities of the pids still running, in one query (one ps or PowerShell run, not one per pid). */
export async function readProcessIdentities(pids: number[], platform: NodeJS.Platform = process.platform, run: Runner = defaultRunner): Promise<Map<number, ProcessIdentity>> {
  const wanted = [...new Set(pids.filter((p) => Number.isInteger(p) && p > 0))];
  const found: ProcessIdentity[] = [];
  if (wanted.length > 0) {
    try {
      if (platform === 'linux') found.push(...wanted.flatMap((p) => linuxIdentity(p) ?? []));
      else if (platform === 'darwin') {
        const out = await run(systemTool('ps', platform), ['-o', 'pid=', '-o', 'lstart=', '-o', 'comm=', '-p', wanted.join(',')]);
        found.push(...out.split('\n').flatMap((l) => parsePsLine(l) ?? []));
      } else if (platform === 'win32') {
        found.push(...parseCimIdentities(await run(systemTool('powershell', platform), ['-NoProfile', '-NonInteractive', '-Command', cimIdentityScript(wanted)])));
      }
    } catch {
      // ps exits 1 when none of the pids exists; an unreadable answer counts as "none"
    }
  }
  return new Map(found.filter((f) => wanted.includes(f.pid)).map((f) => [f.pid, f]));
}

/** Is `now` the process that was recorded? Start time must match; paths too when both are known. */
export function sameProcess(recorded: ProcessIdentity, now: ProcessIdentity | null): boolean {
  if (!now || now.pid !== recorded.pid || now.started !== recorded.started) return false;
  return recorded.path === null || now.path === null || recorded.path === now.path;
}
