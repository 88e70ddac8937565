/**
 * The claim channel: `consultguard-agent exception --app zoom --reason patient-cannot-use`
 * run by the clinician (for desktops whose notifications carry no buttons: macOS without
 * alerter, GNOME without action support).
 * It meets the agent under the same nudge root as the helper and proves itself with the
 * same per-user key the agent wrote for that user's helper (ROOT/<uid>.key, readable only
 * by that user and root), so a claim can only be made for oneself:
 *
 *   POSIX    ROOT/agent.sock (0666 inside ROOT 0711; the key proof, not the mode, decides)
 *   Windows  \\.\pipe\consultguard-agent-<hash of ROOT>; the key is the user's file under ROOT
 *
 * Linux is tested with real processes (test/integration/exceptions.test.ts); macOS uses the
 * same code path; the Windows pipe is unit-level only here.
 */
import { createHash, createHmac } from 'node:crypto';
import type { z } from 'zod';
import { lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { isAppError } from '../../shared/errors.js';
import { ClaimChallenge, ClaimReply, ClaimRequest, IPC_VERSION } from '../../shared/ipc.js';
import type { Logger } from '../../shared/log.js';
import { encodeFrame, frameReader, newNonce, proofMatches } from './ipc-protocol.js';
import { readKey, userPaths, type Owner } from './rendezvous.js';
import { windowsUserPaths } from './windows.js';

export function claimPath(root: string, platform: NodeJS.Platform = process.platform): string {
  if (platform === 'win32') return `\\\\.\\pipe\\consultguard-agent-${createHash('sha256').update(root.toLowerCase()).digest('hex').slice(0, 16)}`;
  return join(root, 'agent.sock');
}

export function claimProof(key: Buffer, nonce: string, c: Pick<ClaimRequest, 'user' | 'app' | 'reason' | 'minutes'>): string {
  return createHmac('sha256', key).update(['claim', nonce, c.user, c.app, c.reason, String(c.minutes)].join('\u0000')).digest('hex');
}

export interface ClaimServerOptions {
  root: string;
  platform?: NodeJS.Platform;
  resolveUser: (user: string) => Promise<Owner | null>;
  /** Opens the window; throws an AppError (bad_request) naming what is wrong. */
  claim: (c: { user: string; app: string; reason: string; minutes: number }) => { until: number; reason: string; app: string; minutesGranted: number };
  log: Logger;
}

async function keyFor(opts: ClaimServerOptions, user: string): Promise<Buffer | null> {
  if ((opts.platform ?? process.platform) === 'win32') return readKey(windowsUserPaths(opts.root, user).keyFile, null);
  const owner = await opts.resolveUser(user);
  return owner ? readKey(userPaths(opts.root, owner.uid).keyFile, owner.uid) : null;
}

export async function startClaimServer(opts: ClaimServerOptions): Promise<Server> {
  const path = claimPath(opts.root, opts.platform);
  const posix = (opts.platform ?? process.platform) !== 'win32';
  if (posix) {
    mkdirSync(opts.root, { recursive: true, mode: 0o711 }); // as rendezvous.ts makes it
    try {
      if (lstatSync(path).isSocket()) unlinkSync(path); // left by an agent that crashed (one agent per root)
    } catch {
      // none yet
    }
  }
  const server = createServer((socket) => serve(socket, opts));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ path, readableAll: true, writableAll: true }, () => (server.off('error', reject), resolve()));
  });
  server.on('error', (err) => opts.log.error({ err }, 'exception claim socket failed'));
  return server;
}

function serve(socket: Socket, opts: ClaimServerOptions): void {
  const nonce = newNonce();
  const reply = (r: ClaimReply) => {
    if (!socket.destroyed) socket.end(encodeFrame(r));
  };
  const timer = setTimeout(() => socket.destroy(), 5000);
  socket.on('close', () => clearTimeout(timer));
  socket.on('error', () => {});
  let busy = false;
  const onFrame = (value: unknown): void => {
    if (busy) return;
    busy = true;
    const parsed = ClaimRequest.safeParse(value);
    if (!parsed.success) return reply({ type: 'error', code: 'bad_message', message: `expected a protocol v${IPC_VERSION} claim {user, app, reason, minutes, proof}` });
    const c = parsed.data;
    void keyFor(opts, c.user).then((key) => {
      if (!key || !proofMatches(claimProof(key, nonce, c), c.proof)) {
        opts.log.warn({ user: c.user }, 'refused an exception claim that could not prove it comes from that user');
        return reply({ type: 'error', code: 'unauthorized', message: `cannot prove this claim comes from "${c.user}": run it as that user, after the agent has prepared the user's nudge folder (at the first nudge)` });
      }
      try {
        const x = opts.claim(c);
        opts.log.info({ app: x.app, reason: x.reason, until: new Date(x.until).toISOString() }, 'exception claimed by the clinician');
        reply({ type: 'claimed', until: new Date(x.until).toISOString(), minutes: x.minutesGranted, app: x.app, reason: x.reason });
      } catch (err) {
        reply({ type: 'error', code: isAppError(err) ? err.code : 'internal', message: isAppError(err) ? err.message : 'the agent could not record the claim; see its log' });
      }
    }, () => reply({ type: 'error', code: 'internal', message: 'the agent could not check the claim; see its log' }));
  };
  socket.on('data', frameReader(onFrame, (message) => reply({ type: 'error', code: 'bad_message', message })));
  socket.write(encodeFrame({ type: 'challenge', v: IPC_VERSION, nonce } satisfies z.infer<typeof ClaimChallenge>));
}

/** The CLI's side: one claim, the agent's answer. */
export function sendClaim(path: string, key: Buffer, c: Pick<ClaimRequest, 'user' | 'app' | 'reason' | 'minutes'>, timeoutMs = 5000): Promise<ClaimReply> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    const timer = setTimeout(() => (socket.destroy(), reject(new Error(`the agent did not answer at ${path} within ${timeoutMs} ms`))), timeoutMs);
    let done = false;
    const finish = (r: ClaimReply | Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      if (r instanceof Error) reject(r);
      else resolve(r);
    };
    socket.on('error', (err: NodeJS.ErrnoException) => finish(new Error(`cannot reach the ConsultGuard agent at ${path} (${err.code ?? err.message}); is it running?`)));
    socket.on('data', frameReader((value) => {
      const challenge = ClaimChallenge.safeParse(value);
      if (challenge.success) {
        return void socket.write(encodeFrame({ type: 'claim', v: IPC_VERSION, ...c, proof: claimProof(key, challenge.data.nonce, c) } satisfies ClaimRequest));
      }
      const r = ClaimReply.safeParse(value);
      finish(r.success ? r.data : new Error('the agent answered with a frame this version does not know'));
    }, (message) => finish(new Error(message))));
  });
}
