/**
 * The Linux collectors: processes from /proc, connections from the socket tables, and
 * capture devices, with one /proc fd walk serving both socket owners and device holders
 * (proc-fds.ts). During polls only the processes whose name could matter (catalog apps,
 * browsers) and the sound servers are checked for devices; `record` (no name filter)
 * checks every process.
 */
import { accessSync, constants } from 'node:fs';
import type { Capabilities } from '../../shared/protocol.js';
import type { Connection, DeviceUse, ProcessInfo } from '../../shared/snapshot.js';
import { collectLinuxConnections, linuxSockets, withOwners, type Interesting } from './connections.js';
import { linuxDevices, SOUND_SERVERS, type LinuxDeviceOptions } from './devices/linux.js';
import { hasCaptureNodes, walkFds } from './proc-fds.js';
import { createProcProcessCollector } from './proc-processes.js';
import type { NameFilter } from './processes.js';

export interface LinuxCollectorOptions extends LinuxDeviceOptions {
  /** The folder whose video* and snd/pcmC*D*c nodes count as capture devices (default /dev). */
  devRoot?: string;
  /**
   * `auto` (default): look for holders only when the machine has a capture node at all;
   * `always`: look regardless (a replayed /proc tree whose links name /dev nodes this machine lacks).
   */
  deviceWalk?: 'auto' | 'always';
  userName: (uid: number | undefined) => string | undefined;
}

export function createLinuxCollectors(opts: LinuxCollectorOptions) {
  const procRoot = opts.procRoot ?? '/proc';
  const devRoot = opts.devRoot ?? '/dev';
  const processes = createProcProcessCollector(opts.userName, procRoot);
  const root = (process.geteuid?.() ?? -1) === 0;

  async function connectionsAndDevices(interesting: Interesting | undefined, procs: readonly ProcessInfo[], wanted?: NameFilter): Promise<{ connections: Connection[]; devices: DeviceUse[] }> {
    const kept = linuxSockets(interesting, procRoot);
    const look = (opts.deviceWalk ?? 'auto') === 'always' || hasCaptureNodes(devRoot);
    const capture = !look ? null : wanted ? new Set(procs.filter((p) => wanted(p.name) || SOUND_SERVERS.has(p.name)).map((p) => p.pid)) : 'all';
    const walk = walkFds({ inodes: new Set(kept.map((k) => k.socket.inode)), capture, nodes: { devRoot } }, procRoot);
    return { connections: withOwners(kept, walk.owners), devices: await linuxDevices(walk.holders, procs, opts) };
  }

  function capabilities(): Capabilities {
    let conntrack = false;
    try {
      accessSync(`${procRoot}/net/nf_conntrack`, constants.R_OK);
      conntrack = true;
    } catch {
      // not root, or netfilter does not track connections here
    }
    return {
      // Without root, other users' /proc/PID/exe and fd links cannot be read.
      processPaths: root ? 'yes' : 'partial',
      processUsers: 'yes',
      tcpPeers: 'yes',
      // Connected UDP sockets always; browsers' unconnected WebRTC sockets only through conntrack.
      udpPeers: conntrack ? 'yes' : 'partial',
      captureDevices: root ? 'yes' : 'partial',
    };
  }

  return {
    processes,
    connections: async (interesting?: Interesting) => collectLinuxConnections(interesting, procRoot),
    connectionsAndDevices,
    capabilities,
  };
}
