/**
 * Helper side of the IPC: listens on the user's socket (or pipe), challenges every caller,
 * and serves only one that proves it holds the user's key, i.e. the agent (root/SYSTEM)
 * or the user themself. Anyone else gets `unauthorized` and is cut off before a nudge.
 */
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import type { Logger } from '../../shared/log.js';
import { AgentFrame, IPC_VERSION, type DevicesReport, type HelperError, type HelperFrame, type HelperOutcome, type NudgeRequest } from '../../shared/ipc.js';
import { encodeFrame, frameReader, newNonce, proof, proofMatches } from './ipc-protocol.js';

export type Report = (outcome: HelperOutcome['outcome'], detail?: string) => void;
/** The clinician claimed an exception: sent to the agent before the final outcome. */
export type Claim = (reason: string, minutes: number) => void;

export interface HelperServerOptions {
  /** Unix socket path or Windows pipe path. */
  path: string;
  /** Read at every hello, so a key the agent rewrites takes effect without a restart. */
  readKey: () => Buffer | null;
  /** Shows one nudge; calls `report('shown')` then exactly one final outcome. */
  show: (request: NudgeRequest, report: Report, claim: Claim) => Promise<void>;
  log: Logger;
  helloTimeoutMs?: number;
  /** Answers a `devices` query (capture devices in use in this session); absent: "not known here". */
  devices?: () => Promise<Pick<DevicesReport, 'devices' | 'detail'>>;
}

export interface HelperServer {
  close(): Promise<void>;
}

/** Is another process already serving this path? (A second helper for the same user.) */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

export async function startHelperServer(opts: HelperServerOptions): Promise<HelperServer> {
  const posix = !opts.path.startsWith('\\\\.\\pipe\\');
  if (posix) {
    let stale = false;
    try {
      stale = lstatSync(opts.path).isSocket();
    } catch {
      // no socket yet
    }
    if (stale) {
      if (await answers(opts.path)) throw new Error(`another nudge helper is already running for this user (it answers at ${opts.path}); this one exits`);
      unlinkSync(opts.path); // left by a helper that crashed
    }
  }
  const sockets = new Set<Socket>();
  const server = createServer((socket) => serve(socket, opts, sockets));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ path: opts.path, readableAll: false, writableAll: false }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => opts.log.error({ err }, 'nudge helper socket failed'));
  // Connecting to a Unix socket needs write permission on it. The Linux service is root
  // without CAP_DAC_OVERRIDE, so a 0600 socket of the user's would refuse it: the socket is
  // 0666 and the folder around it (0700, this user's; checked by both sides) keeps every
  // other user out. Anyone who does reach it must still prove the key (ipc-protocol.ts).
  if (posix) chmodSync(opts.path, 0o666);
  return {
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

function serve(socket: Socket, opts: HelperServerOptions, sockets: Set<Socket>): void {
  sockets.add(socket);
  const helperNonce = newNonce();
  let phase: 'hello' | 'nudge' | 'showing' = 'hello';
  const send = (frame: HelperFrame) => {
    if (!socket.destroyed) socket.write(encodeFrame(frame));
  };
  const refuse = (code: HelperError['code'], message: string) => {
    send({ type: 'error', code, message });
    socket.end();
    // A caller that never closes its side must not hold the socket open.
    setTimeout(() => socket.destroy(), 1000).unref();
    clearTimeout(timer);
  };
  const timer = setTimeout(() => refuse('timeout', `no hello within ${opts.helloTimeoutMs ?? 5000} ms`), opts.helloTimeoutMs ?? 5000);
  socket.on('close', () => {
    clearTimeout(timer);
    sockets.delete(socket);
  });
  socket.on('error', (err) => opts.log.debug({ err: err.message }, 'nudge connection error'));

  function onFrame(value: unknown): void {
    const parsed = AgentFrame.safeParse(value);
    if (!parsed.success) return refuse('bad_message', `expected a protocol v${IPC_VERSION} hello or nudge frame`);
    const frame = parsed.data;
    if (phase === 'hello' && frame.type === 'hello') {
      const key = opts.readKey();
      if (!key || !proofMatches(proof(key, 'agent', helperNonce, frame.nonce), frame.proof)) {
        opts.log.warn('refused a connection that could not prove it is the ConsultGuard agent');
        return refuse('unauthorized', 'the caller could not prove it holds this user\'s nudge key');
      }
      clearTimeout(timer);
      phase = 'nudge';
      return send({ type: 'welcome', proof: proof(key, 'helper', frame.nonce, helperNonce) });
    }
    if (phase === 'nudge' && frame.type === 'nudge') {
      phase = 'showing';
      let final = false;
      const report: Report = (outcome, detail) => {
        if (final) return;
        final = outcome !== 'shown';
        send({ type: 'outcome', id: frame.id, outcome, ...(detail ? { detail: detail.slice(0, 512) } : {}) });
        if (final) socket.end();
      };
      const claim: Claim = (reason, minutes) => {
        if (!final) send({ type: 'exception', id: frame.id, reason, minutes });
      };
      opts.show(frame, report, claim).catch((err: unknown) => report('failed', `the helper could not show it: ${err instanceof Error ? err.message : String(err)}`));
      return;
    }
    if (phase === 'nudge' && frame.type === 'devices') {
      phase = 'showing';
      const probe = opts.devices ?? (() => Promise.resolve({ devices: null, detail: 'this helper has no capture-device probe on this OS' }));
      probe()
        .catch((err: unknown) => ({ devices: null, detail: `the capture-device probe failed: ${err instanceof Error ? err.message : String(err)}`.slice(0, 512) }))
        .then((answer) => {
          send({ type: 'devices', id: frame.id, devices: answer.devices, ...(answer.detail ? { detail: answer.detail.slice(0, 512) } : {}) });
          socket.end();
        }, () => socket.destroy());
      return;
    }
    refuse('bad_message', `unexpected "${frame.type}" while waiting for ${phase === 'hello' ? 'hello' : 'nothing more'}`);
  }
  socket.write(encodeFrame({ type: 'challenge', v: IPC_VERSION, nonce: helperNonce }));
  socket.on('data', frameReader(onFrame, (message) => refuse('bad_message', message)));
}
