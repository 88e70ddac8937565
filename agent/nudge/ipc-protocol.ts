/**
 * Agent <-> nudge helper protocol (local IPC, version 1). One JSON object per line
 * (newline-delimited: JSON.stringify never emits a raw newline), at most MAX_FRAME bytes.
 *
 *   helper -> agent   challenge {nonce}                    as soon as the agent connects
 *   agent  -> helper  hello {nonce, proof}                  proof = HMAC(key, "agent", helperNonce, agentNonce)
 *   helper -> agent   welcome {proof}                       proof = HMAC(key, "helper", agentNonce, helperNonce)
 *   agent  -> helper  nudge {...}                           one per connection
 *   helper -> agent   outcome {id, outcome, detail?}        "shown", then one final outcome; then the helper closes
 *   helper -> agent   error {code, message}                 and closes (bad hello, bad frame)
 *   agent  -> helper  devices {id}                          instead of a nudge: which capture devices are in use
 *   helper -> agent   devices {id, devices|null, detail?}   the answer (null: not known here); then the helper closes
 *
 * Both sides prove they can read the per-user key file (readable only by that user and
 * root/SYSTEM), each over the other's fresh nonce, so neither a stranger's client nor a
 * stranger's fake helper can replay or reflect a proof.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { DeviceUse } from '../../shared/snapshot.js';

export const IPC_VERSION = 1;
export const MAX_FRAME = 16 * 1024;

const Nonce = z.string().regex(/^[0-9a-f]{64}$/, 'expected 32 random bytes as hex');
const Proof = z.string().regex(/^[0-9a-f]{64}$/, 'expected an HMAC-SHA256 as hex');
const WebUrl = z.string().url().refine((u) => /^https?:\/\//i.test(u), { message: 'expected an http(s) URL' });
/** The approved app may have its own scheme (e.g. a vendor's join link), but never a local file or script. */
const AppUrl = z.string().url().refine((u) => !/^(file|javascript|data|vbscript):/i.test(u), { message: 'expected a web or app URL, not a file or script' });

export const Challenge = z.object({ type: z.literal('challenge'), v: z.literal(IPC_VERSION), nonce: Nonce });
export const Hello = z.object({ type: z.literal('hello'), v: z.literal(IPC_VERSION), nonce: Nonce, proof: Proof });
export const Welcome = z.object({ type: z.literal('welcome'), proof: Proof });

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

export const IpcError = z.object({ type: z.literal('error'), code: z.enum(['unauthorized', 'bad_message', 'timeout']), message: z.string().max(512) });

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

export const AgentFrame = z.discriminatedUnion('type', [Hello, NudgeRequest, DevicesQuery]);
export type AgentFrame = z.infer<typeof AgentFrame>;
export const HelperFrame = z.discriminatedUnion('type', [Challenge, Welcome, HelperOutcome, IpcError, DevicesReport]);
export type HelperFrame = z.infer<typeof HelperFrame>;

export const newNonce = (): string => randomBytes(32).toString('hex');

/** HMAC over a role label and both nonces: the label stops a proof being reflected back. */
export function proof(key: Buffer, role: 'agent' | 'helper', theirNonce: string, ourNonce: string): string {
  return createHmac('sha256', key).update(`consultguard-nudge/${IPC_VERSION}\n${role}\n${theirNonce}\n${ourNonce}`).digest('hex');
}

export function proofMatches(expected: string, got: string): boolean {
  const a = Buffer.from(expected, 'hex');
  const b = Buffer.from(got, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

export const encodeFrame = (frame: object): string => `${JSON.stringify(frame)}\n`;

/**
 * Splits a byte stream into parsed frames. Calls `onFrame` with each JSON value, or
 * `onError` once (and stops) on an over-long line or bad JSON.
 */
export function frameReader(onFrame: (value: unknown) => void, onError: (message: string) => void): (chunk: Buffer) => void {
  let buffered = '';
  let broken = false;
  return (chunk) => {
    if (broken) return;
    buffered += chunk.toString('utf8');
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (line.length > MAX_FRAME) return void ((broken = true), onError(`frame of ${line.length} bytes exceeds ${MAX_FRAME}`));
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        broken = true;
        return onError('frame is not JSON');
      }
      onFrame(value);
    }
    if (buffered.length > MAX_FRAME) {
      broken = true;
      onError(`frame exceeds ${MAX_FRAME} bytes without a newline`);
    }
  };
}
