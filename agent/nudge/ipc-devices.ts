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
import type { AgentFrame } from '../../shared/ipc.js';
import { encodeFrame, frameReader } from './ipc-protocol.js';
import { agentHandshake } from './ipc-handshake.js';

export interface DevicesAnswer {
  devices: DeviceUse[] | null;
  detail?: string;
}

export function askHelperDevices(path: string, key: Buffer, timeoutMs = 5000): Promise<DevicesAnswer> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    const id = randomUUID();
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
    const hs = agentHandshake({ path, key, send, after: 'answer', distrust: 'not trusting its answer' });
    function onFrame(value: unknown): void {
      const step = hs.step(value);
      if ('error' in step) return done(step.error);
      if ('trusted' in step) return void send({ type: 'devices', id });
      if (!('frame' in step)) return;
      const { frame } = step;
      if (hs.phase === 'answer' && frame.type === 'devices' && frame.id === id) {
        return done(null, { devices: frame.devices, ...(frame.detail ? { detail: frame.detail } : {}) });
      }
      done(hs.unexpected(frame));
    }
    socket.on('connect', () => hs.connected());
    socket.on('data', frameReader(onFrame, (message) => done(nudgeError('untrusted_helper', `bad frame from the helper: ${message}`))));
    socket.on('error', (err: NodeJS.ErrnoException) => done(nudgeError(hs.phase === 'connecting' ? 'no_helper' : 'timeout', `the helper at ${path}: ${err.code ?? err.message}`)));
    socket.on('close', () => done(nudgeError('timeout', `the helper closed the connection during ${hs.phase}`)));
  });
}
