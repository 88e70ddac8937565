/**
 * Framing and proofs of the agent <-> nudge helper IPC; the envelopes themselves are in
 * shared/ipc.ts. Both sides prove they can read the per-user key file (readable only by
 * that user and root/SYSTEM), each over the other's fresh nonce, so neither a stranger's
 * client nor a stranger's fake helper can replay or reflect a proof.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { IPC_VERSION, MAX_IPC_FRAME as MAX_FRAME } from '../../shared/ipc.js';

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
