/** Reading another process's CPU time and memory from /proc (Linux), for the benchmarks. */
import { readFileSync } from 'node:fs';

const CLK_TCK = 100;

/** User + system CPU time of a process, in ms (clock-tick resolution: 10 ms). */
export function procCpuMs(pid: number | 'self'): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
}

/** Resident memory of a process, in KB. */
export function rssKb(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'))?.[1] ?? NaN);
}
