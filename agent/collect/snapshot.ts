/**
 * One poll of this machine in the snapshot format: processes and connections, collected
 * side by side. Used by the agent's poll loop, `scan --live` and `record`.
 */
import { hostname } from 'node:os';
import type { Platform, ProcessInfo, Snapshot, Connection } from '../../shared/snapshot.js';
import { createConnectionCollector, type Interesting } from './connections.js';
import { createProcessCollector, createPsListCollector, type NameFilter } from './processes.js';
import { collectorCommand, createWindowsCollectors } from './win-native.js';
import type { Logger } from '../../shared/log.js';

export interface Collectors {
  processes: (wanted?: NameFilter) => Promise<ProcessInfo[]>;
  connections: (interesting?: Interesting) => Promise<Connection[]>;
  /** The collector in use, in plain words (`status` shows it). */
  describe?: () => string;
}

export function defaultCollectors(log?: Logger): Collectors {
  if (process.platform === 'win32') {
    const fallback = { processes: createPsListCollector(undefined, 'win32'), connections: createConnectionCollector('win32') };
    const windows = createWindowsCollectors({ command: collectorCommand(), fallback, log });
    return { processes: createProcessCollector('win32', windows), connections: createConnectionCollector('win32', windows), describe: windows.describe };
  }
  const describe = process.platform === 'linux' ? 'linux /proc' : 'ps-list and systeminformation';
  return { processes: createProcessCollector(), connections: createConnectionCollector(), describe: () => describe };
}

export async function takeSnapshot(collectors: Collectors, at: Date, interesting?: Interesting, wanted?: NameFilter): Promise<Snapshot> {
  const [processes, connections] = await Promise.all([collectors.processes(wanted), collectors.connections(interesting)]);
  return { v: 1, platform: process.platform as Platform, hostname: hostname(), takenAt: at.toISOString(), processes, connections };
}
