/**
 * One poll of this machine in the snapshot format: processes, connections and, where this
 * OS can tell, capture devices. Used by the agent's poll loop, `scan --live` and `record`.
 *
 * Per OS (see README "How each OS collects"):
 * - Linux: /proc directly; one fd walk serves socket owners and capture-device holders.
 * - macOS: /bin/ps, lsof -F, dscl; capture devices from the nudge helper in the user's session.
 * - Windows: the native collector (collector.c via win-native.ts): Toolhelp/NtQuery for
 *   processes, token owners, GetExtended*Table; ps-list + CIM + systeminformation only as
 *   its fallback; capture devices from each signed-in user's nudge helper, which runs
 *   consultguard-devices.exe in that session (devices/win-helper.ts).
 */
import { hostname } from 'node:os';
import type { Capabilities } from '../../shared/protocol.js';
import type { Connection, DeviceUse, Platform, ProcessInfo, Snapshot } from '../../shared/snapshot.js';
import { createConnectionCollector, type Interesting } from './connections.js';
import type { Logger } from '../../shared/log.js';
import { createDarwinCollectors } from './darwin.js';
import type { DeviceProbe } from './devices/types.js';
import { createWindowsHelperDeviceProbe } from './devices/win-helper.js';
import { createLinuxCollectors } from './linux.js';
import { createProcessCollector, createPsListCollector, createUserNames, type NameFilter } from './processes.js';
import { collectorCommand, createWindowsCollectors } from './win-native.js';

export interface Collectors {
  processes: (wanted?: NameFilter) => Promise<ProcessInfo[]>;
  connections: (interesting?: Interesting) => Promise<Connection[]>;
  /** Capture devices in use; absent: not known on this machine (the snapshot leaves `devices` out). */
  devices?: DeviceProbe;
  /** Linux: connections and device holders from one /proc fd walk, in place of `connections` + `devices`. */
  connectionsAndDevices?: (interesting: Interesting | undefined, processes: readonly ProcessInfo[], wanted?: NameFilter) => Promise<{ connections: Connection[]; devices: DeviceUse[] | null }>;
  /** What these collectors can see right now (reported in the status heartbeat). */
  capabilities?: () => Capabilities;
  /** The collector in use, in plain words (`status` shows it). */
  describe?: () => string;
}

export interface CollectorOptions {
  platform?: NodeJS.Platform;
  /** macOS and Windows: the nudge rendezvous root, to ask the session helper about capture devices. */
  nudgeRoot?: string;
  /** macOS and Windows: make the user's helper folder if missing (the agent does; `scan --live` does not). */
  prepareHelperDir?: boolean;
  /** Windows, tests: a capture-device probe in place of the session helpers' (devices/win-helper.ts). */
  deviceProbe?: DeviceProbe;
  /**
   * Linux, for tests only: the folder whose video* and snd/pcmC*D*c entries count as capture
   * nodes, instead of /dev (this project's machines have no camera or sound card).
   */
  devRoot?: string;
  onError?: (what: string, err: unknown) => void;
  /** Windows: the native collector's child-process failures are logged here (once per streak). */
  log?: Logger;
}

/**
 * Test-only stand-in for /dev (CollectorOptions.devRoot), honoured by `scan --live` and
 * `record` only, never by the agent service; documented in README "How each OS collects".
 */
export const TEST_DEV_ROOT_ENV = 'CONSULTGUARD_TEST_DEV_ROOT';

/** The options `scan --live` and `record` collect with. */
export function toolCollectorOptions(nudgeRoot: string, env: NodeJS.ProcessEnv = process.env): CollectorOptions {
  const devRoot = env[TEST_DEV_ROOT_ENV];
  return { nudgeRoot, prepareHelperDir: false, ...(devRoot ? { devRoot } : {}) };
}

export function defaultCollectors(opts: CollectorOptions = {}): Collectors {
  const platform = opts.platform ?? process.platform;
  const onError = opts.onError ? { onError: opts.onError } : {};
  if (platform === 'linux') {
    return { ...createLinuxCollectors({ userName: createUserNames(), ...(opts.devRoot ? { devRoot: opts.devRoot } : {}), ...onError }), describe: () => 'linux /proc' };
  }
  if (platform === 'darwin') {
    return { ...createDarwinCollectors({ ...(opts.nudgeRoot ? { nudgeRoot: opts.nudgeRoot } : {}), prepareHelperDir: opts.prepareHelperDir ?? false, ...onError }), describe: () => 'macOS /bin/ps, lsof -F and dscl' };
  }
  // Windows: the native collector (win-native.ts), with ps-list, the CIM query and
  // systeminformation only as its fallback (which describe() then names).
  // Capture devices: each signed-in user's nudge helper runs consultguard-devices.exe in
  // that user's session and answers over the named-pipe rendezvous (devices/win-helper.ts).
  const helperProbe = !opts.deviceProbe && opts.nudgeRoot
    ? createWindowsHelperDeviceProbe({ root: opts.nudgeRoot, prepare: opts.prepareHelperDir ?? false, ...onError })
    : undefined;
  const probe = opts.deviceProbe ?? helperProbe;
  const fallback = { processes: createPsListCollector(createUserNames(), 'win32'), connections: createConnectionCollector('win32') };
  const windows = createWindowsCollectors({ command: collectorCommand(), fallback, log: opts.log });
  return {
    processes: createProcessCollector('win32', windows),
    connections: createConnectionCollector('win32', windows),
    describe: windows.describe,
    ...(probe ? { devices: probe } : {}),
    capabilities: () => {
      const native = !windows.describe().startsWith('fallback');
      return {
        // The native collector reads every process's image path and token owner; the fallback
        // (fastlist + one CIM query) only those of catalog-named processes.
        processPaths: native ? 'yes' : 'partial',
        processUsers: native ? 'yes' : 'partial',
        tcpPeers: 'yes',
        // The Windows UDP table has no remote address (MIB_UDPROW_OWNER_PID; netstat prints *:*).
        udpPeers: 'no',
        // The helper's probe: `yes` once a helper answered from Core Audio and the sensor
        // monitor (by pid), `partial` when a kind came from the ConsentStore fallback, `no`
        // until a helper answered. An injected probe is taken at its word.
        captureDevices: helperProbe ? helperProbe.level() : probe ? (probe.attribution === 'process' ? 'yes' : 'partial') : 'no',
      };
    },
  };
}

export async function takeSnapshot(collectors: Collectors, at: Date, interesting?: Interesting, wanted?: NameFilter): Promise<Snapshot> {
  let processes: ProcessInfo[];
  let connections: Connection[];
  let devices: DeviceUse[] | null = null;
  if (collectors.connectionsAndDevices) {
    processes = await collectors.processes(wanted);
    ({ connections, devices } = await collectors.connectionsAndDevices(interesting, processes, wanted));
  } else {
    [processes, connections] = await Promise.all([collectors.processes(wanted), collectors.connections(interesting)]);
    // A failing device probe costs this poll its device evidence, never the poll.
    if (collectors.devices) devices = await collectors.devices.collect(processes, wanted).catch(() => null);
  }
  const snapshot: Snapshot = { v: 1, platform: process.platform as Platform, hostname: hostname(), takenAt: at.toISOString(), processes, connections };
  if (devices) snapshot.devices = devices;
  return snapshot;
}
