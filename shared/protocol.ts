/**
 * Agent wire protocol v1 (CONTRACTS section 3): every envelope in one place. Text
 * frames, one JSON object each, discriminated by `type`.
 */
import * as z from 'zod';
import { AppState, Platform, Via } from './snapshot.js';
import { EffectivePolicy } from './policy.js';

export const PROTOCOL_VERSION = 1;
export const MAX_FRAME_BYTES = 1024 * 1024;
export const AGENT_PATH = '/agent';

/**
 * WebSocket close codes the server uses (section 3). `replaced` is the normal close (1000,
 * reason "replaced") of an agent's older connection when the same agent, with its own
 * token, connects again: one live connection per agent.
 */
export const CloseCode = {
  replaced: 1000,
  badMessage: 4400,
  unauthorized: 4401,
  helloTimeout: 4408,
  tooManyMessages: 4429,
} as const;

const Uuid = z.string().uuid();
const IsoTime = z.string().datetime({ offset: true });

export const Event = z.object({
  id: Uuid,
  violationId: Uuid,
  kind: z.enum(['started', 'updated', 'ended']),
  app: z.string().min(1).max(64),
  state: AppState,
  via: Via,
  user: z.string().max(256).optional(),
  pids: z.array(z.number().int().nonnegative()).max(256),
  evidence: z.array(z.string().max(512)).max(32),
  at: IsoTime,
});
export type Event = z.infer<typeof Event>;

/**
 * What happened to a nudge (added in v1, additive): reported so security leads see whether
 * nudges work. `shown` when the notification appeared, `clicked` when the clinician opened
 * the approved app from it, `dismissed` when closed without it, `suppressed` when policy
 * (quiet period, hourly cap, monitor mode) held it back, `app-closed` in enforce mode,
 * `failed` when no helper could show it (e.g. nobody logged in).
 * `exception` (additive, issue 14): the clinician claimed "I need this app for this consult"
 * with `reason` (an id from the policy's `exceptions.reasons`, its words in `detail`); no
 * nudges for that app and user until `until`. A lead accepts or rejects it on the server.
 */
export const NudgeOutcome = z.object({
  id: Uuid,
  violationId: Uuid,
  app: z.string().min(1).max(64),
  user: z.string().max(256).optional(),
  outcome: z.enum(['shown', 'clicked', 'dismissed', 'suppressed', 'app-closed', 'failed', 'exception']),
  at: IsoTime,
  detail: z.string().max(512).optional(),
  reason: z.string().min(1).max(41).optional(),
  until: IsoTime.optional(),
});
export type NudgeOutcome = z.infer<typeof NudgeOutcome>;

export const Hello = z.object({
  type: z.literal('hello'),
  protocol: z.literal(PROTOCOL_VERSION),
  agentId: Uuid,
  enrollSecret: z.string().min(1).max(512).optional(),
  token: z.string().min(1).max(512).optional(),
  host: z.object({
    hostname: z.string().min(1).max(255),
    platform: Platform,
    osVersion: z.string().max(128),
    agentVersion: z.string().max(64),
  }),
  site: z.string().max(128).optional(),
  group: z.string().max(128).optional(),
});
export type Hello = z.infer<typeof Hello>;

export const Events = z.object({
  type: z.literal('events'),
  batch: z.number().int().nonnegative(),
  events: z.array(Event).min(1).max(1000),
});
export type Events = z.infer<typeof Events>;

export const Nudges = z.object({
  type: z.literal('nudges'),
  batch: z.number().int().nonnegative(),
  nudges: z.array(NudgeOutcome).min(1).max(1000),
});
export type Nudges = z.infer<typeof Nudges>;

/**
 * What evidence this agent's collectors can see (added in v1, additive): each one `yes`,
 * `partial` (some of it: e.g. only connected UDP sockets, or devices without the process)
 * or `no`. Sent inside `status.health` as flat `sees.<name>` keys so the server stores it
 * with the rest of the health figures, no schema change; `capabilitiesFromHealth` reads it back.
 */
export const CapabilityLevel = z.enum(['yes', 'partial', 'no']);
export type CapabilityLevel = z.infer<typeof CapabilityLevel>;
export const CAPABILITY_NAMES = ['processPaths', 'processUsers', 'tcpPeers', 'udpPeers', 'captureDevices'] as const;
export type Capabilities = Record<(typeof CAPABILITY_NAMES)[number], CapabilityLevel>;
const CAPABILITY_PREFIX = 'sees.';

export function capabilitiesToHealth(c: Capabilities): Record<string, string> {
  return Object.fromEntries(CAPABILITY_NAMES.map((n) => [`${CAPABILITY_PREFIX}${n}`, c[n]]));
}

/** null when the agent sent none (an older agent): "not reported", not "sees nothing". */
export function capabilitiesFromHealth(health: Record<string, unknown> | null | undefined): Capabilities | null {
  if (!health) return null;
  const out: Partial<Capabilities> = {};
  for (const n of CAPABILITY_NAMES) {
    const v = CapabilityLevel.safeParse(health[`${CAPABILITY_PREFIX}${n}`]);
    if (!v.success) return null;
    out[n] = v.data;
  }
  return out as Capabilities;
}

export const Status = z.object({
  type: z.literal('status'),
  at: IsoTime,
  monitoring: z.boolean(),
  policyVersion: z.string().max(128).nullable(),
  health: z.record(z.string(), z.union([z.number(), z.string(), z.boolean(), z.null()])).optional(),
});
export type Status = z.infer<typeof Status>;

export const AgentMessage = z.discriminatedUnion('type', [Hello, Events, Nudges, Status]);
export type AgentMessage = z.infer<typeof AgentMessage>;

export const Welcome = z.object({
  type: z.literal('welcome'),
  agentId: Uuid,
  token: z.string(),
  policy: EffectivePolicy,
  serverTime: IsoTime,
});
export const Ack = z.object({ type: z.literal('ack'), batch: z.number().int() });
export const PolicyPush = z.object({ type: z.literal('policy'), policy: EffectivePolicy });
/** `retryAfterSec` (additive): with `quota_exceeded`, when the agent may send again. */
export const ErrorMessage = z.object({ type: z.literal('error'), code: z.string(), message: z.string(), retryAfterSec: z.number().nonnegative().optional() });
export type ErrorMessage = z.infer<typeof ErrorMessage>;

export const ServerMessage = z.discriminatedUnion('type', [Welcome, Ack, PolicyPush, ErrorMessage]);
export type ServerMessage = z.infer<typeof ServerMessage>;
