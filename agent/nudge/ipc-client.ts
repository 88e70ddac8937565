/**
 * Agent side of the helper IPC: finds the helper of the user who owns the offending
 * process, checks it is really theirs, proves itself, sends one nudge and passes each
 * outcome the helper reports to `onOutcome` until the final one.
 */
import { createConnection } from 'node:net';
import { AppError, isAppError } from '../../shared/errors.js';
import { nudgeError } from './errors.js';
import type { AgentFrame, HelperException, HelperOutcome, NudgeRequest } from '../../shared/ipc.js';
import { encodeFrame, frameReader } from './ipc-protocol.js';
import { agentHandshake } from './ipc-handshake.js';
import { checkHelperSocket, prepareUserDir, type Owner } from './rendezvous.js';
import { prepareWindowsUserDir } from './windows.js';

export interface DeliverOptions {
  root: string;
  /** Event.user: who owns the process. */
  user: string;
  request: NudgeRequest;
  onOutcome: (outcome: HelperOutcome) => void;
  /** The clinician claimed an exception from this nudge (before its final outcome). */
  onException?: (claim: HelperException) => void;
  resolveUser: (user: string) => Promise<Owner | null>;
  platform?: NodeJS.Platform;
  /** How long to wait for a helper to appear (it may be starting at login). */
  waitForHelperMs?: number;
  handshakeMs?: number;
  signal?: AbortSignal;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Where to connect, with the key, once the user's folder is ready and trusted. */
async function locate(opts: DeliverOptions): Promise<{ path: string; key: Buffer; ready: () => boolean }> {
  if ((opts.platform ?? process.platform) === 'win32') {
    const { pipe, key } = prepareWindowsUserDir(opts.root, opts.user);
    return { path: pipe, key, ready: () => true };
  }
  const owner = await opts.resolveUser(opts.user);
  if (!owner) throw nudgeError('unknown_user', `no local account "${opts.user}" (id -u failed)`);
  const self = process.geteuid?.() ?? -1;
  if (self !== 0 && owner.uid !== self) {
    throw nudgeError('no_helper', `the agent runs as uid ${self} and can nudge only its own user, not "${opts.user}"; run the agent service as root`);
  }
  const paths = prepareUserDir(opts.root, owner, self === 0);
  return { path: paths.socketFile, key: paths.key, ready: () => checkHelperSocket(paths, owner.uid) };
}

export async function deliverNudge(opts: DeliverOptions): Promise<void> {
  const target = await locate(opts);
  const deadline = Date.now() + (opts.waitForHelperMs ?? 10_000);
  for (;;) {
    if (opts.signal?.aborted) throw nudgeError('timeout', 'the agent is stopping');
    let lastError: AppError;
    if (target.ready()) {
      try {
        return await converse(target.path, target.key, opts);
      } catch (err) {
        // Only a helper that is not there (yet) is worth waiting for; a refusal is final.
        if (!isAppError(err, 'no_helper')) throw err;
        lastError = err;
      }
    } else {
      lastError = nudgeError('no_helper', `no nudge helper is listening for "${opts.user}" at ${target.path}: is the user logged in, with "consultguard-agent nudge-helper" started at login?`);
    }
    if (Date.now() >= deadline) throw lastError;
    await sleep(250);
  }
}

function converse(path: string, key: Buffer, opts: DeliverOptions): Promise<void> {
  const { request } = opts;
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    let settled = false;
    let timer = setTimeout(() => done(nudgeError('timeout', `the helper at ${path} did not complete the hello within ${opts.handshakeMs ?? 5000} ms`)), opts.handshakeMs ?? 5000);
    const onAbort = () => done(nudgeError('timeout', 'the agent is stopping'));
    opts.signal?.addEventListener('abort', onAbort);

    function done(err?: AppError): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      if (err) reject(err);
      else resolve();
    }
    const send = (frame: AgentFrame) => socket.write(encodeFrame(frame));
    const hs = agentHandshake({ path, key, send, after: 'outcomes', distrust: 'not sending it the nudge' });

    function onFrame(value: unknown): void {
      const step = hs.step(value);
      if ('error' in step) return done(step.error);
      if ('trusted' in step) {
        clearTimeout(timer);
        // The notification's own life plus slack: the helper always ends with a final outcome.
        timer = setTimeout(() => done(nudgeError('timeout', 'the helper gave no final outcome in time')), (request.timeoutSec + 30) * 1000);
        return void send(request);
      }
      if (!('frame' in step)) return;
      const { frame } = step;
      // A claimed exception comes before the final outcome of the same nudge.
      if (hs.phase === 'outcomes' && frame.type === 'exception' && frame.id === request.id) return void opts.onException?.(frame);
      if (hs.phase === 'outcomes' && frame.type === 'outcome' && frame.id === request.id) {
        opts.onOutcome(frame);
        if (frame.outcome !== 'shown') done();
        return;
      }
      done(hs.unexpected(frame));
    }

    socket.on('connect', () => hs.connected());
    socket.on('data', frameReader(onFrame, (message) => done(nudgeError('untrusted_helper', `bad frame from the helper: ${message}`))));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      done(hs.phase === 'connecting'
        ? nudgeError('no_helper', `cannot connect to the nudge helper at ${path} (${err.code ?? err.message}); it may be starting or not running`)
        : nudgeError('timeout', `the connection to the helper failed: ${err.message}`));
    });
    socket.on('close', () => done(nudgeError('timeout', `the helper closed the connection during ${hs.phase}`)));
  });
}
