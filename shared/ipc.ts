/**
 * Agent <-> nudge helper envelopes (local IPC, version 1): every message of that channel in
 * one place, as the wire protocol's are in protocol.ts. The names say which channel they
 * belong to (`HelperHello` is not the wire `Hello`). One JSON object per line, at most
 * MAX_IPC_FRAME bytes; framing, nonces and proofs are in agent/nudge/ipc-protocol.ts.
 *
 *   helper -> agent   challenge {nonce}                    as soon as the agent connects
 *   agent  -> helper  hello {nonce, proof}                  proof = HMAC(key, "agent", helperNonce, agentNonce)
 *   helper -> agent   welcome {proof}                       proof = HMAC(key, "helper", agentNonce, helperNonce)
 *   agent  -> helper  nudge {...}                           one per connection
 *   helper -> agent   outcome {id, outcome, detail?}        "shown", then one final outcome; then the helper closes
 *   helper -> agent   error {code, message}                 and closes (bad hello, bad frame)
 *   agent  -> helper  devices {id}                          instead of a nudge: which capture devices are in use
 *   helper -> agent   devices {id, devices|null, detail?}   the answer (null: not known here); then the helper closes
 *   helper -> agent   exception {id, reason, minutes}       the clinician chose "I need this app for this consult"
 *                                                           (then the final outcome, `dismissed`)
 *
 * The claim channel (`consultguard-agent exception`, for OSes or desktops without actionable
 * notifications): the agent listens at ROOT/agent.sock (Windows: \\.\pipe\consultguard-agent);
 *   agent  -> client  challenge {nonce}
 *   client -> agent   claim {user, app, reason, minutes, proof}   proof = HMAC(user's nudge key, "claim", nonce, user, app, reason, minutes)
 *   agent  -> client  claimed {until} | error {code, message}
 *
 * To add a message: declare its schema and add it to AGENT_TO_HELPER or HELPER_TO_AGENT
 * (one line); both unions and their types follow.
 */
import * as z from 'zod';
import type { ErrorCode } from './errors.js';
import { DeviceUse } from './snapshot.js';

export const IPC_VERSION = 1;
export const MAX_IPC_FRAME = 16 * 1024;

const Nonce = z.string().regex(/^[0-9a-f]{64}$/, 'expected 32 random bytes as hex');
const Proof = z.string().regex(/^[0-9a-f]{64}$/, 'expected an HMAC-SHA256 as hex');
const WebUrl = z.string().url().refine((u) => /^https?:\/\//i.test(u), { message: 'expected an http(s) URL' });
/** The approved app may have its own scheme (e.g. a vendor's join link), but never a local file or script. */
const AppUrl = z.string().url().refine((u) => !/^(file|javascript|data|vbscript):/i.test(u), { message: 'expected a web or app URL, not a file or script' });

/** Helper -> agent, first: a fresh nonce the agent must prove the key over. */
export const HelperChallenge = z.object({ type: z.literal('challenge'), v: z.literal(IPC_VERSION), nonce: Nonce });
/** Agent -> helper: the agent's proof and its own nonce for the helper to prove over. */
export const HelperHello = z.object({ type: z.literal('hello'), v: z.literal(IPC_VERSION), nonce: Nonce, proof: Proof });
/** Helper -> agent: the helper's proof; from now on it accepts the nudge. */
export const HelperReady = z.object({ type: z.literal('welcome'), proof: Proof });

/** What to show: the agent renders the policy's templates; the helper only displays. */
export const NudgeRequest = z.object({
  type: z.literal('nudge'),
  id: z.string().uuid(),
  title: z.string().min(1).max(200),
  message: z.string().min(1).max(1000),
  approved: z.object({
    name: z.string().min(1).max(200),
    url: AppUrl,
    /** This OS's launch target from `approved.open` (desktop id, bundle id, AUMID, command). */
    open: z.string().min(1).max(500).optional(),
  }),
  aboutUrl: WebUrl.optional(),
  /** The catalog id of the app the nudge is about (exceptions name it). */
  app: z.string().min(1).max(64).optional(),
  /** The policy's exception reasons: the notification offers one action per reason. */
  exceptions: z.object({ reasons: z.array(z.object({ id: z.string().min(1).max(41), label: z.string().min(1).max(120) })).max(6), maxMinutes: z.number().int().min(1) }).optional(),
  /** "What ConsultGuard sees" (agent/privacy/describe.ts), for the page the nudge links to. */
  sees: z.array(z.object({ heading: z.string().max(100), lines: z.array(z.string().max(600)).max(20) })).max(12).optional(),
  /** How long the notification stays up before it counts as dismissed. */
  timeoutSec: z.number().int().min(5).max(3600),
});
export type NudgeRequest = z.infer<typeof NudgeRequest>;

export const HelperOutcome = z.object({
  type: z.literal('outcome'),
  id: z.string().uuid(),
  outcome: z.enum(['shown', 'clicked', 'dismissed', 'failed']),
  detail: z.string().max(512).optional(),
});
export type HelperOutcome = z.infer<typeof HelperOutcome>;

/** Helper -> agent: the clinician claimed an exception from the nudge `id`. */
export const HelperException = z.object({
  type: z.literal('exception'),
  id: z.string().uuid(),
  reason: z.string().min(1).max(41),
  minutes: z.number().int().min(1).max(24 * 60),
});
export type HelperException = z.infer<typeof HelperException>;

/** The claim channel: a user's own process (the CLI) asks the agent for an exception. */
export const ClaimChallenge = z.object({ type: z.literal('challenge'), v: z.literal(IPC_VERSION), nonce: Nonce });
export const ClaimRequest = z.object({
  type: z.literal('claim'),
  v: z.literal(IPC_VERSION),
  /** POSIX: the uid as text (whose key in ROOT proves it); Windows: the account name. */
  user: z.string().min(1).max(256),
  app: z.string().min(1).max(64),
  reason: z.string().min(1).max(41),
  minutes: z.number().int().min(1).max(24 * 60),
  proof: Proof,
});
export type ClaimRequest = z.infer<typeof ClaimRequest>;
export const ClaimReply = z.discriminatedUnion('type', [
  z.object({ type: z.literal('claimed'), until: z.string(), minutes: z.number().int(), app: z.string(), reason: z.string() }),
  z.object({ type: z.literal('error'), code: z.string(), message: z.string().max(512) }),
]);
export type ClaimReply = z.infer<typeof ClaimReply>;

/** The codes a helper may refuse with: a subset of the one list in shared/errors.ts. */
export const IPC_ERROR_CODES = ['unauthorized', 'bad_message', 'timeout'] as const satisfies readonly ErrorCode[];
export const HelperError = z.object({ type: z.literal('error'), code: z.enum(IPC_ERROR_CODES), message: z.string().max(512) });
export type HelperError = z.infer<typeof HelperError>;

/**
 * Capture devices in use, asked of the helper because only code in the user's session can
 * ask macOS (AVFoundation, Core Audio). Only "in use" travels, never audio or video.
 */
export const DevicesQuery = z.object({ type: z.literal('devices'), id: z.string().uuid() });
export type DevicesQuery = z.infer<typeof DevicesQuery>;
export const DevicesReport = z.object({
  type: z.literal('devices'),
  id: z.string().uuid(),
  /** null: this helper cannot tell (no probe on this OS, or the probe failed). */
  devices: z.array(DeviceUse).max(64).nullable(),
  detail: z.string().max(512).optional(),
});
export type DevicesReport = z.infer<typeof DevicesReport>;

const AGENT_TO_HELPER = [HelperHello, NudgeRequest, DevicesQuery] as const;
const HELPER_TO_AGENT = [HelperChallenge, HelperReady, HelperOutcome, HelperException, HelperError, DevicesReport] as const;

export const AgentFrame = z.discriminatedUnion('type', AGENT_TO_HELPER);
export type AgentFrame = z.infer<typeof AgentFrame>;
export const HelperFrame = z.discriminatedUnion('type', HELPER_TO_AGENT);
export type HelperFrame = z.infer<typeof HelperFrame>;
