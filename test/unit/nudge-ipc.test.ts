/**
 * Agent <-> helper IPC on real Unix sockets in temp folders: folder, key and socket
 * permissions, the mutual key proof, and refusals (a stranger's client, a stranger's fake
 * helper, a socket that does not belong to the user being nudged).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { chmodSync, existsSync, lchownSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AppError } from '../../shared/errors.js';
import { deliverNudge } from '../../agent/nudge/ipc-client.js';
import { encodeFrame, frameReader, newNonce, proof } from '../../agent/nudge/ipc-protocol.js';
import type { HelperOutcome, NudgeRequest } from '../../shared/ipc.js';
import { startHelperServer, type HelperServer, type Report } from '../../agent/nudge/ipc-server.js';
import { checkHelperSocket, helperDirState, prepareUserDir, readKey, userPaths } from '../../agent/nudge/rendezvous.js';
import { silentLogger } from '../../shared/log.js';
import { tempDir } from '../support/server.js';

const uid = process.getuid!();
const gid = process.getgid!();
const isRoot = uid === 0;
const mode = (file: string) => statSync(file).mode & 0o777;

const request = (): NudgeRequest => ({
  type: 'nudge', id: randomUUID(), title: 'Please use Healthdirect Video Call', message: 'Zoom is not approved here.',
  approved: { name: 'Healthdirect Video Call', url: 'https://vcc.healthdirect.org.au/' }, timeoutSec: 30,
});

const servers: HelperServer[] = [];
const raw: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  await Promise.all(raw.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** A real helper server for this user, with a fake notifier that records what it was asked to show. */
async function helperFor(root: string, show?: (r: NudgeRequest, report: Report) => Promise<void>) {
  const paths = userPaths(root, uid);
  const shown: NudgeRequest[] = [];
  const server = await startHelperServer({
    path: paths.socketFile,
    readKey: () => readKey(paths.keyFile, uid),
    log: silentLogger(),
    helloTimeoutMs: 300,
    show: show ?? (async (r, report) => {
      shown.push(r);
      report('shown');
      report('clicked', 'opened Healthdirect Video Call');
    }),
  });
  servers.push(server);
  return { paths, shown };
}

/** A client that speaks the protocol by hand: what a stranger's process could do. */
function stranger(path: string, act: (challengeNonce: string, send: (f: object) => void) => void): Promise<object[]> {
  return new Promise((resolve) => {
    const got: object[] = [];
    const s = createConnection(path);
    s.on('data', frameReader((f) => {
      got.push(f as object);
      const frame = f as { type: string; nonce?: string };
      if (frame.type === 'challenge') act(frame.nonce!, (out) => s.write(encodeFrame(out)));
    }, () => undefined));
    s.on('error', () => undefined);
    s.on('close', () => resolve(got));
  });
}

describe('rendezvous permissions', () => {
  it('the agent makes ROOT 0711, the user folder 0700 and a 0600 key of 32 random bytes, and keeps the key', () => {
    const root = join(tempDir(), 'nudge');
    const a = prepareUserDir(root, { uid, gid }, isRoot);
    expect(mode(root)).toBe(0o711);
    expect(mode(a.dir)).toBe(0o700);
    expect(mode(a.keyFile)).toBe(0o600);
    expect(statSync(a.keyFile).uid).toBe(uid);
    expect(readFileSync(a.keyFile, 'utf8').trim()).toMatch(/^[0-9a-f]{64}$/);
    expect(prepareUserDir(root, { uid, gid }, isRoot).key.equals(a.key)).toBe(true);
  });

  it('replaces a key others could read, and repairs a folder opened up to others', () => {
    const root = join(tempDir(), 'nudge');
    const a = prepareUserDir(root, { uid, gid }, isRoot);
    chmodSync(a.keyFile, 0o644);
    chmodSync(a.dir, 0o755);
    expect(readKey(a.keyFile, uid)).toBeNull();
    // The helper owns its folder and closes it again; the key it cannot trust means "wait".
    expect(helperDirState(a, uid)).toEqual({ state: 'waiting' });
    expect(mode(a.dir)).toBe(0o700);
    const b = prepareUserDir(root, { uid, gid }, isRoot);
    expect(b.key.equals(a.key)).toBe(false);
    expect(mode(b.keyFile)).toBe(0o600);
    expect(mode(b.dir)).toBe(0o700);
    expect(helperDirState(b, uid)).toEqual({ state: 'ready' });
  });

  it.skipIf(!isRoot)('keeps the key beside the user\'s folder, and refuses a user\'s folder opened up to others', () => {
    const root = join(tempDir(), 'nudge');
    const other = { uid: 65534, gid: 65534 };
    const a = prepareUserDir(root, other, true);
    expect(a.keyFile).toBe(join(root, '65534.key'));
    expect(statSync(a.dir).uid).toBe(65534);
    expect(statSync(a.keyFile).uid).toBe(65534);
    chmodSync(a.dir, 0o755);
    expect(() => prepareUserDir(root, other, true)).toThrow(/mode 0755, not 0700/);
  });

  it('the helper waits for a folder the agent has not made yet', () => {
    expect(helperDirState(userPaths(join(tempDir(), 'nudge'), uid), uid)).toEqual({ state: 'waiting' });
  });

  it('the helper socket is reachable only through the user\'s 0700 folder', async () => {
    const root = join(tempDir(), 'nudge');
    prepareUserDir(root, { uid, gid }, isRoot);
    const { paths } = await helperFor(root);
    // 0666 so a root agent without CAP_DAC_OVERRIDE can connect; the folder keeps others out.
    expect(mode(paths.socketFile)).toBe(0o666);
    expect(mode(paths.dir)).toBe(0o700);
    expect(statSync(paths.socketFile).isSocket()).toBe(true);
  });
});

describe('agent to helper', () => {
  it('delivers a nudge after both sides prove the key, and passes on shown then the final outcome', async () => {
    const root = join(tempDir(), 'nudge');
    prepareUserDir(root, { uid, gid }, isRoot);
    const { shown } = await helperFor(root);
    const outcomes: HelperOutcome[] = [];
    const r = request();
    await deliverNudge({ root, user: 'me', request: r, onOutcome: (o) => outcomes.push(o), resolveUser: async () => ({ uid, gid }) });
    expect(shown).toEqual([r]);
    expect(outcomes.map((o) => o.outcome)).toEqual(['shown', 'clicked']);
    expect(outcomes[1]).toMatchObject({ id: r.id, detail: 'opened Healthdirect Video Call' });
  });

  it('waits for a helper that starts after the agent (e.g. at login), then fails clearly when there is none', async () => {
    const root = join(tempDir(), 'nudge');
    const late = deliverNudge({ root, user: 'me', request: request(), onOutcome: () => undefined, resolveUser: async () => ({ uid, gid }), waitForHelperMs: 5000 });
    // The agent is waiting once it has prepared the folder and key and found no socket.
    await vi.waitFor(() => expect(existsSync(userPaths(root, uid).keyFile)).toBe(true));
    expect(existsSync(userPaths(root, uid).socketFile)).toBe(false);
    const { shown } = await helperFor(root);
    await late;
    expect(shown).toHaveLength(1);

    const none = join(tempDir(), 'nudge');
    const err = await deliverNudge({ root: none, user: 'dr.lee', request: request(), onOutcome: () => undefined, resolveUser: async () => ({ uid, gid }), waitForHelperMs: 300 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ code: 'no_helper', message: expect.stringContaining('"consultguard-agent nudge-helper" started at login') });
  });

  it('fails with unknown_user when the process owner has no local account', async () => {
    const err = await deliverNudge({ root: join(tempDir(), 'nudge'), user: 'ghost', request: request(), onOutcome: () => undefined, resolveUser: async () => null }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'unknown_user' });
  });
});

describe('a stranger on the same machine', () => {
  it('cannot send nudges to the helper with a different key', async () => {
    const root = join(tempDir(), 'nudge');
    prepareUserDir(root, { uid, gid }, isRoot);
    const { paths, shown } = await helperFor(root);
    const wrongKey = randomBytes(32);
    const got = await stranger(paths.socketFile, (helperNonce, send) => {
      const nonce = newNonce();
      send({ type: 'hello', v: 1, nonce, proof: proof(wrongKey, 'agent', helperNonce, nonce) });
      send(request());
    });
    expect(got.map((f) => (f as { type: string }).type)).toEqual(['challenge', 'error']);
    expect(got[1]).toMatchObject({ code: 'unauthorized' });
    expect(shown).toEqual([]);
  });

  it('cannot send nudges without a key: skipping the hello, or saying nothing', async () => {
    const root = join(tempDir(), 'nudge');
    prepareUserDir(root, { uid, gid }, isRoot);
    const { paths, shown } = await helperFor(root);
    const skipped = await stranger(paths.socketFile, (_n, send) => send(request()));
    expect(skipped[1]).toMatchObject({ type: 'error', code: 'bad_message' });
    const silent = await stranger(paths.socketFile, () => undefined);
    expect(silent[1]).toMatchObject({ type: 'error', code: 'timeout' });
    // Replaying the agent's proof from another session does not work either: the nonce is new.
    expect(shown).toEqual([]);
  });

  it('reports helper_refused when the helper holds another key (the key was replaced since it read it)', async () => {
    const root = join(tempDir(), 'nudge');
    const paths = prepareUserDir(root, { uid, gid }, isRoot);
    const stale = randomBytes(32);
    const server = await startHelperServer({ path: paths.socketFile, readKey: () => stale, log: silentLogger(), show: async () => undefined });
    servers.push(server);
    const err = await deliverNudge({ root, user: 'me', request: request(), onOutcome: () => undefined, resolveUser: async () => ({ uid, gid }) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ code: 'helper_refused', message: expect.stringContaining('unauthorized') });
  });

  it('reports timeout when a helper accepts the connection but never completes the hello', async () => {
    const root = join(tempDir(), 'nudge');
    const paths = prepareUserDir(root, { uid, gid }, isRoot);
    const mute = createServer((s) => s.on('error', () => undefined));
    raw.push(mute);
    await new Promise<void>((r) => mute.listen(paths.socketFile, r));
    const err = await deliverNudge({ root, user: 'me', request: request(), onOutcome: () => undefined, resolveUser: async () => ({ uid, gid }), handshakeMs: 300 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'timeout', message: expect.stringContaining('did not complete the hello within 300 ms') });
    mute.close();
  });

  it('cannot fool the agent with a fake helper that does not hold the user\'s key', async () => {
    const root = join(tempDir(), 'nudge');
    const paths = prepareUserDir(root, { uid, gid }, isRoot);
    const received: string[] = [];
    const fake = createServer((s) => {
      s.write(encodeFrame({ type: 'challenge', v: 1, nonce: newNonce() }));
      s.on('data', frameReader((f) => {
        received.push((f as { type: string }).type);
        s.write(encodeFrame({ type: 'welcome', proof: randomBytes(32).toString('hex') }));
      }, () => undefined));
      s.on('error', () => undefined);
    });
    raw.push(fake);
    await new Promise<void>((r) => fake.listen(paths.socketFile, r));
    const err = await deliverNudge({ root, user: 'me', request: request(), onOutcome: () => undefined, resolveUser: async () => ({ uid, gid }) }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'untrusted_helper', message: expect.stringContaining('cannot prove it holds the user\'s key') });
    expect(received).toEqual(['hello']); // the nudge itself was never sent
  });

  it('the agent refuses a helper socket or folder that does not belong to the user being nudged', async () => {
    const dir = join(tempDir(), 'nudge', String(uid));
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const paths = userPaths(join(dir, '..'), uid);
    const other = createServer();
    raw.push(other);
    await new Promise<void>((r) => other.listen(paths.socketFile, r));
    expect(checkHelperSocket(paths, uid)).toBe(true);
    // Folder and socket belong to this uid, not to the user the agent wants to nudge.
    expect(() => checkHelperSocket(paths, uid + 1)).toThrow(/owned by uid \d+ .*expected uid \d+, mode 0700\. Refusing/);
    chmodSync(dir, 0o750);
    expect(() => checkHelperSocket(paths, uid)).toThrow(/mode 0750; expected uid/);
  });

  // Not skipped when not root (CI fails on skips): a non-root agent refuses other users outright.
  it('through the whole agent path: a socket chowned to someone else in the user\'s folder is refused', async () => {
    const root = join(tempDir(), 'nudge');
    if (!isRoot) {
      const err = await deliverNudge({ root, user: 'dr.kim', request: request(), onOutcome: () => undefined, resolveUser: async () => ({ uid: uid + 1, gid }) }).catch((e: unknown) => e);
      return expect(err).toMatchObject({ code: 'no_helper', message: expect.stringContaining('can nudge only its own user') });
    }
    const paths = prepareUserDir(root, { uid, gid }, true);
    const fake = createServer();
    raw.push(fake);
    await new Promise<void>((r) => fake.listen(paths.socketFile, r));
    lchownSync(paths.socketFile, 65534, 65534);
    const err = await deliverNudge({ root, user: 'me', request: request(), onOutcome: () => undefined, resolveUser: async () => ({ uid, gid }) }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'untrusted_helper', message: expect.stringMatching(/owned by uid 65534, not uid 0; refusing/) });
  });

  it('a second helper for the same user does not steal the socket from a live one', async () => {
    const root = join(tempDir(), 'nudge');
    prepareUserDir(root, { uid, gid }, isRoot);
    const { paths } = await helperFor(root);
    await expect(startHelperServer({ path: paths.socketFile, readKey: () => null, show: async () => undefined, log: silentLogger() })).rejects.toThrow(/another nudge helper is already running/);
  });
});
