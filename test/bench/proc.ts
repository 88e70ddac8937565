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

/** A process's memory from /proc/PID/smaps_rollup (Linux 4.14+), in KB. */
export interface MemoryKb {
  /** Resident set: what `ps`, Task Manager's "working set" and `agent.rss_mb` report. */
  rss: number;
  /** Anonymous resident pages: heap, stacks, JIT code; what this process alone costs the machine. */
  anonymous: number;
  /** Private_Clean + Private_Dirty: also counts file pages no other process has mapped right now. */
  private: number;
  /** Resident file pages shared with other processes (the node binary, libc, ICU). */
  shared: number;
}

export function memoryKb(pid: number): MemoryKb {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'latin1');
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return {
    rss: field('Rss'),
    anonymous: field('Anonymous'),
    private: field('Private_Clean') + field('Private_Dirty'),
    shared: field('Shared_Clean') + field('Shared_Dirty'),
  };
}
