/**
 * Where the agent and a user's nudge helper meet on Linux and macOS, and the file
 * permissions that make it private:
 *
 *   ROOT/              0711, the agent's user (root): users can pass through, not list or create
 *   ROOT/<uid>/        0700, owned by that user (chowned by the agent)
 *   ROOT/<uid>/key     0600, owned by that user: 32 random bytes (hex), written by the agent
 *   ROOT/<uid>/nudge.sock  the helper's Unix socket (0600)
 *
 * Only that user and root can read the key, and each side proves it knows the key
 * (ipc-protocol.ts). The agent also checks, before connecting, that the folder and socket
 * belong to the user it means to nudge, so a stranger's fake helper is never spoken to.
 * ROOT defaults to the `nudge` folder beside the agent's state folder.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, closeSync, constants, fchownSync, fstatSync, fsyncSync, lstatSync, mkdirSync, openSync, readSync, renameSync, statSync, writeSync, type Stats } from 'node:fs';
import { dirname, join, posix, win32 } from 'node:path';
import { NudgeError } from './errors.js';

export const KEY_FILE = 'key';
export const SOCKET_FILE = 'nudge.sock';
const KEY_HEX = /^[0-9a-f]{64}$/;

/** The rendezvous root an agent with this state folder uses. */
export function agentNudgeRoot(stateDir: string): string {
  return join(dirname(stateDir), 'nudge');
}

/** The root the installed service uses: the helper's default (it runs as the user, not as the service). */
export function serviceNudgeRoot(platform: NodeJS.Platform = process.platform, env: NodeJS.ProcessEnv = process.env): string {
  if (platform === 'win32') return win32.join(env.ProgramData ?? 'C:\\ProgramData', 'ConsultGuard', 'nudge');
  if (platform === 'darwin') return '/Library/Application Support/ConsultGuard/nudge';
  return posix.join('/var/lib/consultguard', 'nudge');
}

export interface UserPaths {
  dir: string;
  keyFile: string;
  socketFile: string;
}

export function userPaths(root: string, uid: number): UserPaths {
  const dir = join(root, String(uid));
  return { dir, keyFile: join(dir, KEY_FILE), socketFile: join(dir, SOCKET_FILE) };
}

const isPrivate = (st: Stats): boolean => (st.mode & 0o077) === 0;
const octal = (mode: number): string => (mode & 0o777).toString(8).padStart(4, '0');

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/**
 * Reads a key file without following links or blocking on a FIFO, and only if it is a
 * small regular file private to `ownerUid` (null: missing or not trustworthy).
 * `ownerUid` null skips the owner and mode checks (Windows, where ACLs do that job).
 */
export function readKey(file: string, ownerUid: number | null): Buffer | null {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0));
  } catch {
    return null;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.size > 256) return null;
    if (ownerUid !== null && (st.uid !== ownerUid || !isPrivate(st))) return null;
    const buf = Buffer.alloc(st.size);
    const n = readSync(fd, buf, 0, buf.length, 0);
    const hex = buf.toString('utf8', 0, n).trim();
    return KEY_HEX.test(hex) ? Buffer.from(hex, 'hex') : null;
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes a fresh key: a new file created exclusively (a planted link makes it fail
 * rather than write through it), chowned, then renamed over the old name.
 */
export function writeKey(file: string, owner: { uid: number; gid: number } | null): Buffer {
  const key = randomBytes(32);
  const tmp = join(dirname(file), `.key-${randomBytes(6).toString('hex')}`);
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0), 0o600);
  try {
    writeSync(fd, `${key.toString('hex')}\n`);
    if (owner) fchownSync(fd, owner.uid, owner.gid);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  return key;
}

export interface Owner {
  uid: number;
  /** -1: leave the group as it is. */
  gid: number;
}

/**
 * Agent side: makes ROOT and the user's folder with the modes above and returns the key
 * (creating it if missing or untrustworthy). `chown` is true when the agent runs as root.
 */
export function prepareUserDir(root: string, owner: Owner, chown: boolean): UserPaths & { key: Buffer } {
  mkdirSync(root, { recursive: true, mode: 0o711 });
  const rootStat = statSync(root);
  if (rootStat.uid === process.geteuid?.()) chmodSync(root, 0o711);
  const paths = userPaths(root, owner.uid);
  let st = lstatOrNull(paths.dir);
  if (st && !st.isDirectory()) {
    throw new NudgeError('untrusted_helper', `${paths.dir} is not a folder (something else was put there); remove it so the agent can recreate it`);
  }
  if (!st) mkdirSync(paths.dir, { mode: 0o700 });
  if (chown) chownSync(paths.dir, owner.uid, owner.gid);
  chmodSync(paths.dir, 0o700);
  st = lstatSync(paths.dir);
  if (st.uid !== owner.uid) {
    throw new NudgeError('untrusted_helper', `${paths.dir} belongs to uid ${st.uid}, not uid ${owner.uid}; the agent must run as root to nudge other users`);
  }
  const key = readKey(paths.keyFile, owner.uid) ?? writeKey(paths.keyFile, chown ? owner : null);
  return { ...paths, key };
}

/**
 * Agent side, just before connecting: the folder and socket must belong to the user being
 * nudged and the folder must be private; otherwise whoever listens there is not their helper.
 * Returns false when no helper is listening (yet).
 */
export function checkHelperSocket(paths: UserPaths, uid: number): boolean {
  const dir = lstatSync(paths.dir);
  if (!dir.isDirectory() || dir.uid !== uid || !isPrivate(dir)) {
    throw new NudgeError('untrusted_helper', `${paths.dir} is owned by uid ${dir.uid} with mode ${octal(dir.mode)}; expected uid ${uid}, mode 0700. Refusing to nudge through it`);
  }
  const sock = lstatOrNull(paths.socketFile);
  if (!sock) return false;
  if (!sock.isSocket() || sock.uid !== uid) {
    throw new NudgeError('untrusted_helper', `${paths.socketFile} is ${sock.isSocket() ? 'a socket' : 'not a socket'} owned by uid ${sock.uid}, not uid ${uid}; refusing a helper that is not that user's`);
  }
  return true;
}

/**
 * Helper side: is the folder the agent made for this user there, private and holding a key?
 * `waiting`: not yet (the agent makes it the first time it nudges this user);
 * `bad`: it exists but is not this user's private folder, so the helper must not use it.
 */
export function helperDirState(paths: UserPaths, uid: number): { state: 'ready' | 'waiting' } | { state: 'bad'; problem: string } {
  const st = lstatOrNull(paths.dir);
  if (!st) return { state: 'waiting' };
  if (!st.isDirectory() || st.uid !== uid || !isPrivate(st)) {
    return { state: 'bad', problem: `${paths.dir} is owned by uid ${st.uid} with mode ${octal(st.mode)}; expected this user (uid ${uid}) and mode 0700. Ask IT to delete it; the agent recreates it` };
  }
  return { state: readKey(paths.keyFile, uid) ? 'ready' : 'waiting' };
}
