/**
 * Agent side of the helper's `devices` query: the same challenge, hello and welcome as a
 * nudge (both sides prove they hold the user's key), then one `devices` question and its
 * answer. Used where only the user's session can see capture devices (macOS).
 */
import { randomUUID } from 'node:crypto';
import { createConnection } from 'node:net';
import type { DeviceUse } from '../../shared/snapshot.js';
import type { AppError } from '../../shared/errors.js';
import { nudgeError } from './errors.js';
import { type AgentFrame, HelperFrame, IPC_VERSION } from '../../shared/ipc.js';
import { encodeFrame, frameReader, newNonce, proof, proofMatches } from './ipc-protocol.js';

export interface DevicesAnswer {
  devices: DeviceUse[] | null;
  detail?: string;
}

export function askHelperDevices(path: string, key: Buffer, timeoutMs = 5000): Promise<DevicesAnswer> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    const agentNonce = newNonce();
    const id = randomUUID();
    let helperNonce = '';
    let phase: 'connecting' | 'challenge' | 'welcome' | 'answer' = 'connecting';
    let settled = false;
    const timer = setTimeout(() => done(nudgeError('timeout', `the helper at ${path} gave no device answer within ${timeoutMs} ms`)), timeoutMs);
    function done(err: AppError | null, answer?: DevicesAnswer): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(answer!);
    }
    const send = (frame: AgentFrame) => socket.write(encodeFrame(frame));
    function onFrame(value: unknown): void {
      const parsed = HelperFrame.safeParse(value);
      if (!parsed.success) return done(nudgeError('untrusted_helper', `the helper sent a frame that is not protocol v${IPC_VERSION}`));
      const frame = parsed.data;
      if (frame.type === 'error') return done(nudgeError('helper_refused', `the helper refused: ${frame.code}: ${frame.message}`));
      if (phase === 'challenge' && frame.type === 'challenge') {
        helperNonce = frame.nonce;
        phase = 'welcome';
        return void send({ type: 'hello', v: IPC_VERSION, nonce: agentNonce, proof: proof(key, 'agent', helperNonce, agentNonce) });
      }
      if (phase === 'welcome' && frame.type === 'welcome') {
        if (!proofMatches(proof(key, 'helper', agentNonce, helperNonce), frame.proof)) {
          return done(nudgeError('untrusted_helper', `the process listening at ${path} cannot prove it holds the user's key; not trusting its answer`));
        }
        phase = 'answer';
        return void send({ type: 'devices', id });
      }
      if (phase === 'answer' && frame.type === 'devices' && frame.id === id) {
        return done(null, { devices: frame.devices, ...(frame.detail ? { detail: frame.detail } : {}) });
      }
      done(nudgeError('untrusted_helper', `unexpected "${frame.type}" from the helper while waiting for ${phase}`));
    }
    socket.on('connect', () => (phase = 'challenge'));
    socket.on('data', frameReader(onFrame, (message) => done(nudgeError('untrusted_helper', `bad frame from the helper: ${message}`))));
    socket.on('error', (err: NodeJS.ErrnoException) => done(nudgeError(phase === 'connecting' ? 'no_helper' : 'timeout', `the helper at ${path}: ${err.code ?? err.message}`)));
    socket.on('close', () => done(nudgeError('timeout', `the helper closed the connection during ${phase}`)));
  });
}
