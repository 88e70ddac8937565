/**
 * The agent's half of the helper handshake, shared by a nudge (ipc-client.ts) and a device
 * query (ipc-devices.ts): the helper's challenge is answered with our hello and proof, and
 * its welcome must carry a proof over our nonce before anything is asked of it. Same on
 * Windows (named pipe), macOS and Linux (Unix socket): only the transport path differs.
 */
import type { AppError } from '../../shared/errors.js';
import { nudgeError } from './errors.js';
import { type AgentFrame, HelperFrame, IPC_VERSION } from '../../shared/ipc.js';
import { newNonce, proof, proofMatches } from './ipc-protocol.js';

/** What one frame from the helper meant: end with `error`, ask the question (`trusted`), or a later `frame`. */
export type HandshakeStep = { error: AppError } | { trusted: true } | { hello: true } | { frame: HelperFrame };

export interface AgentHandshake<After extends string> {
  /** 'connecting', 'challenge', 'welcome', then `after` once the helper has proved itself. */
  readonly phase: 'connecting' | 'challenge' | 'welcome' | After;
  connected(): void;
  step(value: unknown): HandshakeStep;
  /** The error for a frame that fits no phase. */
  unexpected(frame: HelperFrame): AppError;
}

/**
 * `path` names the helper in messages; `distrust` ends the message when the welcome's proof
 * is wrong (what the agent will not do with a helper it cannot trust).
 */
export function agentHandshake<After extends string>(opts: {
  path: string;
  key: Buffer;
  send: (frame: AgentFrame) => void;
  after: After;
  distrust: string;
}): AgentHandshake<After> {
  const { key } = opts;
  const agentNonce = newNonce();
  let helperNonce = '';
  let phase: 'connecting' | 'challenge' | 'welcome' | After = 'connecting';
  return {
    get phase() {
      return phase;
    },
    connected() {
      phase = 'challenge';
    },
    step(value) {
      const parsed = HelperFrame.safeParse(value);
      if (!parsed.success) return { error: nudgeError('untrusted_helper', `the helper sent a frame that is not protocol v${IPC_VERSION}`) };
      const frame = parsed.data;
      if (frame.type === 'error') return { error: nudgeError('helper_refused', `the helper refused: ${frame.code}: ${frame.message}`) };
      if (phase === 'challenge' && frame.type === 'challenge') {
        helperNonce = frame.nonce;
        phase = 'welcome';
        opts.send({ type: 'hello', v: IPC_VERSION, nonce: agentNonce, proof: proof(key, 'agent', helperNonce, agentNonce) });
        return { hello: true };
      }
      if (phase === 'welcome' && frame.type === 'welcome') {
        if (!proofMatches(proof(key, 'helper', agentNonce, helperNonce), frame.proof)) {
          return { error: nudgeError('untrusted_helper', `the process listening at ${opts.path} cannot prove it holds the user's key; ${opts.distrust}`) };
        }
        phase = opts.after;
        return { trusted: true };
      }
      return { frame };
    },
    unexpected(frame) {
      return nudgeError('untrusted_helper', `unexpected "${frame.type}" from the helper while waiting for ${phase}`);
    },
  };
}
