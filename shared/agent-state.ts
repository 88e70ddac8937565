/**
 * The agent's state files (its state folder, see agent/state.ts): one zod schema per file,
 * shared by the agent that writes them and by `consultguard-agent status`, which reads them
 * as another process (often another user). Each reader parses; nothing is cast.
 *
 *   identity.json         { agentId, token }        (+ identity.json.bak, the same, written after it)
 *   open-violations.json  { seq, open: OpenViolation[] }
 *   status.json           the heartbeat's figures plus what `status` shows (0644: readable by IT)
 *   policy.json           the last policy from the server (shared/policy.ts EffectivePolicy)
 *   exceptions.json       { v, windows: ExceptionWindow[] }   clinician exceptions still open
 */
import * as z from 'zod';
import { AppState, Via } from './snapshot.js';

export const Identity = z.object({
  agentId: z.string().uuid(),
  /** The agent's own token from the server's `welcome`; null until enrolled. */
  token: z.string().min(1).nullable().default(null),
});
export type Identity = z.infer<typeof Identity>;

/** A violation the agent has open right now; kept so a restart resumes it instead of opening a duplicate. */
export const OpenViolation = z.object({
  violationId: z.string().uuid(),
  app: z.string().min(1).max(64),
  state: AppState,
  via: Via,
  user: z.string().max(256).optional(),
  pids: z.array(z.number().int().nonnegative()),
  startedAt: z.string().datetime({ offset: true }),
  missed: z.number().int().nonnegative(),
});
export type OpenViolation = z.infer<typeof OpenViolation>;

export const OpenViolations = z.object({
  /** The last outbox seq these already reflect (later records are replayed over them). */
  seq: z.number().int().nonnegative(),
  open: z.array(OpenViolation),
});
export type OpenViolations = z.infer<typeof OpenViolations>;

/** The health figures the heartbeat sends and the status file keeps. */
export const HealthFigures = z.object({
  pollMs: z.number(),
  polls: z.number().int(),
  collectErrors: z.number().int(),
  /** Failures of the agent's own files (identity, open violations, status, policy cache, outbox), counted per attempt. */
  stateErrors: z.number().int().default(0),
  lastError: z.string().nullable(),
  outboxDepth: z.number().int(),
  outboxBytes: z.number().int(),
  dropped: z.number().int(),
  torn: z.number().int(),
  rssMb: z.number(),
  cpuUserMs: z.number(),
  cpuSystemMs: z.number(),
  /** The collector in use, in plain words (e.g. "native (consultguard-collector.exe)", "linux /proc"). */
  collector: z.string().nullable().default(null),
  // Loose: the capability keys (sees.processPaths, ...; shared/protocol.ts) travel here too.
}).loose();
export type HealthFigures = z.infer<typeof HealthFigures>;

/** Where this agent meets the users' nudge helpers (agent/nudge/rendezvous.ts). */
export const NudgePaths = z.object({
  root: z.string().min(1),
  /** How the root was chosen: `option` (--nudge-dir / CONSULTGUARD_NUDGE_DIR) or the per-OS `default`. */
  source: z.enum(['option', 'default']),
});
export type NudgePaths = z.infer<typeof NudgePaths>;

export const StatusFile = z.object({
  at: z.string().datetime({ offset: true }),
  monitoring: z.boolean(),
  policyVersion: z.string().nullable(),
  health: HealthFigures,
  pid: z.number().int().positive(),
  connected: z.boolean(),
  /** The server option as configured (one URL or a comma-separated list). */
  serverUrl: z.string(),
  /** The agent endpoints it may use, in the order it tries them (`--server URL1,URL2`). */
  servers: z.array(z.string()).optional(),
  /** The endpoint it is connected to right now; null while it is not connected. */
  serverInUse: z.string().nullable().optional(),
  open: z.array(OpenViolation),
  nudge: NudgePaths.optional(),
});
export type StatusFile = z.infer<typeof StatusFile>;

/** A clinician exception window (agent/nudge/exceptions.ts), kept so a restart does not end it. */
export const ExceptionWindow = z.object({
  user: z.string().min(1).max(256),
  app: z.string().min(1).max(64),
  reason: z.string().min(1).max(41),
  label: z.string().min(1).max(120),
  until: z.string().datetime({ offset: true }),
  /** Violations already reported under this window (so a restart does not report them twice). */
  reported: z.array(z.string().uuid()).max(1000),
});
export type ExceptionWindow = z.infer<typeof ExceptionWindow>;

export const ExceptionsFile = z.object({ v: z.literal(1), windows: z.array(ExceptionWindow).max(1000) });
export type ExceptionsFile = z.infer<typeof ExceptionsFile>;
