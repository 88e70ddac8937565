/**
 * Linux processes straight from /proc. Most processes do not change between polls, so
 * each is cached by (pid, start time): a poll reads one small `stat` file per process and
 * reads the command line, executable and owner only for processes it has not seen.
 * Files are read into one reused buffer (no allocation per file).
 */
import { closeSync, openSync, readdirSync, readlinkSync, readSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import type { ProcessInfo } from '../../shared/snapshot.js';

const buffer = Buffer.allocUnsafe(64 * 1024);

/** Reads a small /proc file; null if the process is gone or the file unreadable. */
function readSmall(path: string): string | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return null;
  }
  try {
    let total = 0;
    for (;;) {
      const n = readSync(fd, buffer, total, buffer.length - total, null);
      if (n === 0 || total + n >= buffer.length) return buffer.toString('latin1', 0, total + n);
      total += n;
    }
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

interface Cached {
  start: string;
  info: ProcessInfo;
}

export function createProcProcessCollector(userName: (uid: number | undefined) => string | undefined, procRoot = '/proc') {
  let cache = new Map<number, Cached>();

  return async function collectProcesses(): Promise<ProcessInfo[]> {
    const next = new Map<number, Cached>();
    const out: ProcessInfo[] = [];
    for (const entry of readdirSync(procRoot)) {
      const c = entry.charCodeAt(0);
      if (c < 48 || c > 57) continue;
      const pid = Number(entry);
      const stat = readSmall(`${procRoot}/${entry}/stat`);
      if (stat === null) continue;
      // "pid (comm) state ppid ..." — comm may hold spaces and parentheses: cut at the last ')'.
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const fields = stat.slice(close + 2).split(' ');
      const ppid = Number(fields[1]);
      const start = fields[19] ?? '';
      const hit = cache.get(pid);
      if (hit && hit.start === start) {
        hit.info.ppid = ppid;
        next.set(pid, hit);
        out.push(hit.info);
        continue;
      }
      const info: ProcessInfo = { pid, ppid, name: comm };
      let exe: string | undefined;
      try {
        exe = readlinkSync(`${procRoot}/${entry}/exe`).replace(/ \(deleted\)$/, '');
      } catch {
        // kernel thread, or another user's process without privileges
      }
      if (exe) {
        info.path = exe;
        info.name = basename(exe); // like ps-list: the full name, not comm's 15 characters
      }
      const cmd = readSmall(`${procRoot}/${entry}/cmdline`);
      if (cmd) info.cmd = cmd.replace(/\0+$/, '').replaceAll('\0', ' ');
      try {
        const user = userName(statSync(`${procRoot}/${entry}`).uid);
        if (user) info.user = user;
      } catch {
        continue; // exited meanwhile
      }
      next.set(pid, { start, info });
      out.push(info);
    }
    cache = next;
    return out;
  };
}
