/**
 * The macOS collectors: processes from one `/bin/ps` run (darwin-ps.ts) with user names
 * from Directory Services (darwin-users.ts), connections from `lsof -F` (darwin-lsof.ts),
 * and capture devices from the nudge helper in the console user's session (devices/session.ts).
 *
 * Cost: one ps and one lsof child per poll, plus a helper round trip that runs one
 * osascript. Only their parsing is measured here (replayed outputs, test/unit); the cost on
 * a real Mac is not measured (macOS cannot run on this project's Linux machines).
 */
import type { Capabilities } from '../../shared/protocol.js';
import type { Connection, ProcessInfo } from '../../shared/snapshot.js';
import type { Interesting } from './connections.js';
import type { NameFilter } from './processes.js';
import { bundleOf, createBundleIds } from './darwin-bundles.js';
import { parseLsof, LSOF_ARGS, LSOF_FILE } from './darwin-lsof.js';
import { parseDarwinPs, PS_ARGS, PS_FILE, toProcessInfo } from './darwin-ps.js';
import { darwinRunner, type DarwinRunner } from './darwin-run.js';
import { createDarwinUserNames } from './darwin-users.js';
import { createHelperDeviceProbe } from './devices/session.js';
import type { DeviceProbe } from './devices/types.js';

export interface DarwinCollectorOptions {
  run?: DarwinRunner;
  /** The nudge rendezvous root; without it devices stay "not known". */
  nudgeRoot?: string;
  prepareHelperDir?: boolean;
  /** Reads an Info.plist (tests replay recorded ones). */
  readFile?: (path: string) => Buffer;
  /** Who is at the screen (default: the owner of /dev/console); tests point it at themselves. */
  consoleUid?: () => number | null;
  onError?: (what: string, err: unknown) => void;
}

export function createDarwinCollectors(opts: DarwinCollectorOptions = {}) {
  const run = opts.run ?? darwinRunner;
  const userName = createDarwinUserNames(run);
  const bundleId = createBundleIds(run, opts.readFile);
  const probe = opts.nudgeRoot
    ? createHelperDeviceProbe({ root: opts.nudgeRoot, prepare: opts.prepareHelperDir ?? false, ...(opts.consoleUid ? { consoleUid: opts.consoleUid } : {}), ...(opts.onError ? { onError: opts.onError } : {}) })
    : null;
  const root = (process.geteuid?.() ?? -1) === 0;

  async function processes(wanted?: NameFilter): Promise<ProcessInfo[]> {
    const rows = parseDarwinPs(await run(PS_FILE, PS_ARGS));
    const names = new Map<number, string>();
    for (const uid of new Set(rows.map((r) => r.uid))) names.set(uid, await userName(uid));
    const out = rows.map((r) => toProcessInfo(r, names.get(r.uid)));
    // Bundle ids for the processes that could matter (all of them for `record`), cached per bundle.
    for (const p of out) {
      const bundle = p.path && (!wanted || wanted(p.name)) ? bundleOf(p.path) : null;
      const id = bundle ? await bundleId(bundle) : null;
      if (id) p.bundleId = id;
    }
    return out;
  }

  async function connections(interesting?: Interesting): Promise<Connection[]> {
    return parseLsof(await run(LSOF_FILE, LSOF_ARGS), interesting);
  }

  const devices: DeviceProbe | undefined = probe ?? undefined;

  function capabilities(): Capabilities {
    return {
      processPaths: 'yes',
      processUsers: 'yes',
      // lsof shows other users' sockets only to root.
      tcpPeers: root ? 'yes' : 'partial',
      // Connected UDP sockets only: macOS shows no peer for the unconnected sockets browsers send WebRTC from.
      udpPeers: 'partial',
      // Cameras "in use" without the process; microphones by process on macOS 14.2+.
      captureDevices: probe?.lastAnswered() ? 'partial' : 'no',
    };
  }

  return { processes, connections, devices, capabilities };
}
