/**
 * Snapshot format v1 and `scan` output v1 (CONTRACTS section 2). A snapshot is what one
 * poll of one workstation saw; the matcher turns it into detections.
 */
import * as z from 'zod';

export const Platform = z.enum(['win32', 'darwin', 'linux']);
export type Platform = z.infer<typeof Platform>;

export const ProcessInfo = z.object({
  pid: z.number().int().nonnegative(),
  ppid: z.number().int().nonnegative().optional(),
  name: z.string(),
  path: z.string().optional(),
  cmd: z.string().optional(),
  user: z.string().optional(),
  /** macOS (added in v1): CFBundleIdentifier of the .app bundle the executable runs from. */
  bundleId: z.string().optional(),
});
export type ProcessInfo = z.infer<typeof ProcessInfo>;

export const Connection = z.object({
  pid: z.number().int().nonnegative().optional(),
  protocol: z.enum(['tcp', 'udp']),
  localAddress: z.string().optional(),
  localPort: z.number().int().min(0).max(65535).optional(),
  remoteAddress: z.string(),
  remotePort: z.number().int().min(0).max(65535),
  state: z.string().optional(),
});
export type Connection = z.infer<typeof Connection>;

/**
 * A capture device in use at the moment of the snapshot (CONTRACTS section 2, added in v1):
 * the holder is named by pid where the OS tells it, else by executable path or Windows
 * package family name. Only "in use" is ever read: never audio or video.
 */
export const DeviceUse = z.object({
  kind: z.enum(['camera', 'microphone']),
  pid: z.number().int().nonnegative().optional(),
  path: z.string().optional(),
  package: z.string().optional(),
});
export type DeviceUse = z.infer<typeof DeviceUse>;

export const Snapshot = z.object({
  v: z.literal(1),
  platform: Platform,
  hostname: z.string(),
  takenAt: z.string(),
  processes: z.array(ProcessInfo),
  connections: z.array(Connection).default([]),
  /** Missing means "not known on this machine", not "none in use". */
  devices: z.array(DeviceUse).optional(),
});
export type Snapshot = z.infer<typeof Snapshot>;

export const AppState = z.enum(['running', 'in-call']);
export type AppState = z.infer<typeof AppState>;
export const Via = z.enum(['process', 'network', 'process+network']);
export type Via = z.infer<typeof Via>;

export const Detection = z.object({
  app: z.string(),
  state: AppState,
  via: Via,
  confidence: z.number().min(0).max(1),
  pids: z.array(z.number().int()),
  user: z.string().optional(),
  candidates: z.array(z.string()),
  evidence: z.array(z.string()),
});
export type Detection = z.infer<typeof Detection>;

export const ScanResult = z.object({ v: z.literal(1), detections: z.array(Detection) });
export type ScanResult = z.infer<typeof ScanResult>;

const STATE_RANK: Record<AppState, number> = { running: 0, 'in-call': 1 };

/** The higher of two states: a violation's state is the highest it reached. */
export function maxState(a: AppState, b: AppState): AppState {
  return STATE_RANK[b] > STATE_RANK[a] ? b : a;
}

/** Union of two `via` values. */
export function mergeVia(a: Via, b: Via): Via {
  if (a === b) return a;
  return 'process+network';
}
