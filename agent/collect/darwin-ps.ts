/**
 * macOS processes from one `/bin/ps` run, with full executable paths and command lines.
 *
 * ps-list (what macOS used before) cuts the command line at spaces and guesses the path
 * from at most six tokens, so every path with more spaces (Chrome's helpers, "zoom.us.app"
 * inside "Application Support") came back empty. Here `comm` is asked for as a column wide
 * enough for any path (1024 = MAXPATHLEN: ps cuts `comm` to its header's width), and the
 * header line tells where `comm` ends and `args` begins, so neither needs guessing.
 * On macOS `comm` is the path the process was started from (full for anything launchd or
 * Finder starts; a login shell shows `-zsh`).
 */
import type { ProcessInfo } from '../../shared/snapshot.js';

const COMM_WIDTH = 1024;
export const COMM_HEADER = 'COMMAND'.padEnd(COMM_WIDTH, '-');
export const PS_FILE = '/bin/ps';
/**
 * One `-o` per column: BSD ps lets a header given with `=` run to the end of its argument
 * (commas included), so `-o pid=PID,ppid=PPID` could name one column "PID,ppid=PPID".
 */
export const PS_ARGS = ['-axww', '-o', 'pid=PID', '-o', 'ppid=PPID', '-o', 'uid=UID', '-o', 'lstart=STARTED', '-o', `comm=${COMM_HEADER}`, '-o', 'args=ARGUMENTS'];

export interface DarwinProcessRow {
  pid: number;
  ppid: number;
  uid: number;
  /** `lstart`, e.g. "Tue Dec  1 09:15:02 2026": with the pid, it tells a new process from a reused pid. */
  started: string;
  comm: string;
  args: string;
}

/** Parses the output of PS_ARGS; rows that do not fit are skipped (a process that exited mid-listing). */
export function parseDarwinPs(text: string): DarwinProcessRow[] {
  const lines = text.split('\n');
  const header = lines[0] ?? '';
  const commAt = header.indexOf('COMMAND-');
  const argsAt = header.indexOf('ARGUMENTS', commAt + 1);
  if (commAt < 0 || argsAt < 0) throw new Error('ps output has no COMMAND/ARGUMENTS header: not the expected format');
  const out: DarwinProcessRow[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    const head = line.slice(0, commAt).trim().split(/\s+/);
    // pid ppid uid Dow Mon DD HH:MM:SS YYYY
    if (head.length !== 8) continue;
    const [pid, ppid, uid] = head.slice(0, 3).map(Number) as [number, number, number];
    if (![pid, ppid, uid].every((n) => Number.isInteger(n) && n >= 0)) continue;
    out.push({ pid, ppid, uid, started: head.slice(3).join(' '), comm: line.slice(commAt, argsAt).trimEnd(), args: line.slice(argsAt).trimEnd() });
  }
  return out;
}

/** The process name as the catalog knows it: the executable's file name ("zoom.us", "Google Chrome Helper (Renderer)"). */
export function darwinName(comm: string): string {
  const base = comm.slice(comm.lastIndexOf('/') + 1);
  return base.startsWith('-') ? base.slice(1) : base;
}

export function toProcessInfo(row: DarwinProcessRow, user: string | undefined): ProcessInfo {
  const info: ProcessInfo = { pid: row.pid, ppid: row.ppid, name: darwinName(row.comm) };
  if (row.comm.startsWith('/')) info.path = row.comm;
  if (row.args) info.cmd = row.args;
  if (user) info.user = user;
  return info;
}
