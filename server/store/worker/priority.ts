/**
 * Report and export workers yield the CPU to the event loop that acks agents (issue 18): on
 * a busy 2-core server, a worker summing a year at full speed would otherwise take a core
 * the main thread needs. Linux: setpriority(PRIO_PROCESS, 0) names the calling thread only
 * (a documented Linux difference from POSIX), so the worker runs at nice 19 and the server's
 * main thread keeps its priority. macOS and Windows: the same call would lower the whole
 * server (every thread), so it is not made there, and the workers share the CPU as equals.
 */
import { constants, setPriority } from 'node:os';

/** Answers whether this thread now runs at low priority. */
export function lowerThisThread(): boolean {
  if (process.platform !== 'linux') return false;
  try {
    setPriority(constants.priority.PRIORITY_LOW);
    return true;
  } catch {
    return false; // a container without the right to renice: the worker runs as before
  }
}
