/**
 * One walk over /proc/PID/fd that answers both questions the Linux collector asks of open
 * files: which process owns each socket inode of interest (connections), and which
 * processes hold a camera or microphone node (devices). Reading the links is the cost
 * (one readlink per open file), so both share a single pass, and the pass is cut short:
 *
 * - socket owners alone: it stops as soon as every wanted inode is found;
 * - capture holders: only the candidate pids are looked at (the processes whose name
 *   could matter, plus sound servers), unless the caller asks for all of them (`record`).
 */
import { readdirSync, readlinkSync } from 'node:fs';

export type CaptureKind = 'camera' | 'microphone';

export interface CaptureNodes {
  /** The folder whose nodes count: `/dev` in production, a test's folder of stand-in files otherwise. */
  devRoot: string;
}

export interface FdWalkRequest {
  /** Socket inodes whose owner is wanted. */
  inodes: ReadonlySet<number>;
  /** Whose fds to check for capture nodes: none (null), these pids, or every process. */
  capture: ReadonlySet<number> | 'all' | null;
  nodes: CaptureNodes;
}

export interface CaptureHolder {
  pid: number;
  kind: CaptureKind;
  node: string;
}

export interface FdWalkResult {
  owners: Map<number, number>;
  holders: CaptureHolder[];
  /** Processes whose fd folder could not be read (not root, or gone): what the walk could not see. */
  unreadable: number;
}

const VIDEO = /^video\d+$/;
/** ALSA PCM capture nodes end in `c` (playback ones in `p`): /dev/snd/pcmC0D0c. */
const ALSA_CAPTURE = /^snd\/pcmC\d+D\d+c$/;

/** Is this fd link a capture node under `devRoot`? */
export function captureKindOf(link: string, devRoot: string): CaptureKind | null {
  const prefix = devRoot.endsWith('/') ? devRoot : `${devRoot}/`;
  if (!link.startsWith(prefix)) return null;
  const rest = link.slice(prefix.length);
  if (VIDEO.test(rest)) return 'camera';
  if (ALSA_CAPTURE.test(rest)) return 'microphone';
  return null;
}

/** Does this machine have any capture node at all? (No camera and no ALSA capture: no device walk.) */
export function hasCaptureNodes(devRoot: string): boolean {
  try {
    if (readdirSync(devRoot).some((n) => VIDEO.test(n))) return true;
  } catch {
    return false;
  }
  try {
    return readdirSync(`${devRoot}/snd`).some((n) => ALSA_CAPTURE.test(`snd/${n}`));
  } catch {
    return false;
  }
}

export function walkFds(req: FdWalkRequest, procRoot = '/proc'): FdWalkResult {
  const owners = new Map<number, number>();
  const holders: CaptureHolder[] = [];
  let unreadable = 0;
  const wantSockets = req.inodes.size > 0;
  if (!wantSockets && req.capture === null) return { owners, holders, unreadable };
  // Only candidates need visiting when sockets are not asked for: no /proc listing at all.
  const pids: Iterable<number> = !wantSockets && req.capture !== 'all' && req.capture !== null
    ? req.capture
    : readdirSync(procRoot).map(Number).filter((n) => Number.isInteger(n));
  for (const pid of pids) {
    const checkCapture = req.capture === 'all' || (req.capture !== null && req.capture.has(pid));
    if (!checkCapture && (!wantSockets || owners.size === req.inodes.size)) {
      if (req.capture === null) break; // every socket found, nothing else to look for
      continue;
    }
    let fds: string[];
    try {
      fds = readdirSync(`${procRoot}/${pid}/fd`);
    } catch {
      unreadable++;
      continue; // exited, or not ours to read
    }
    const seen = new Set<CaptureKind>();
    for (const fd of fds) {
      let link: string;
      try {
        link = readlinkSync(`${procRoot}/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      if (link.startsWith('socket:[')) {
        if (!wantSockets) continue;
        const inode = Number(link.slice(8, -1));
        if (req.inodes.has(inode) && !owners.has(inode)) owners.set(inode, pid);
        continue;
      }
      if (!checkCapture) continue;
      const kind = captureKindOf(link, req.nodes.devRoot);
      // One entry per process and kind: a process holding two cameras is still "camera in use".
      if (kind && !seen.has(kind)) {
        seen.add(kind);
        holders.push({ pid, kind, node: link });
      }
    }
  }
  return { owners, holders, unreadable };
}
