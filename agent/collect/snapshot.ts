/**
 * One poll of this machine in the snapshot format: processes and connections, collected
 * side by side. Used by the agent's poll loop, `scan --live` and `record`.
 */
import { hostname } from 'node:os';
import type { Platform, ProcessInfo, Snapshot, Connection } from '../../shared/snapshot.js';
import { createConnectionCollector, type Interesting } from './connections.js';
import { createProcessCollector, type NameFilter } from './processes.js';

export interface Collectors {
  processes: (wanted?: NameFilter) => Promise<ProcessInfo[]>;
  connections: (interesting?: Interesting) => Promise<Connection[]>;
}

export function defaultCollectors(): Collectors {
  return { processes: createProcessCollector(), connections: createConnectionCollector() };
}

export async function takeSnapshot(collectors: Collectors, at: Date, interesting?: Interesting, wanted?: NameFilter): Promise<Snapshot> {
  const [processes, connections] = await Promise.all([collectors.processes(wanted), collectors.connections(interesting)]);
  return { v: 1, platform: process.platform as Platform, hostname: hostname(), takenAt: at.toISOString(), processes, connections };
}
