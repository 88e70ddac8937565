/**
 * Where the agent and a user's nudge helper meet on Linux and macOS, and the file
 * permissions that make it private:
 *
 *   ROOT/              0711, the agent's user (root): users can pass through, not list or create
 *   ROOT/<uid>.key     0600, owned by that user: 32 random bytes (hex), written by the agent
 *   ROOT/<uid>/        0700, owned by that user (made by the agent, then chowned)
 *   ROOT/<uid>/nudge.sock  the helper's Unix socket
 *
 * Only that user and root can read the key, and each side proves it knows the key
 * (shared/ipc.ts, ipc-protocol.ts). The agent also checks, before connecting, that the
 * folder and socket belong to the user it means to nudge, so a stranger's fake helper is
 * never spoken to. Which ROOT both sides use is the rule in shared/paths.ts.
 *
 * Why the key sits beside the user's folder and not in it: the Linux service runs as root
 * with a capability bounding set (installers/linux/templates.ts) that has CAP_CHOWN but not
 * CAP_DAC_OVERRIDE or CAP_FOWNER, so it cannot create or chmod files inside a folder once
 * that folder is the user's. It writes the key in ROOT (its own) and chowns it, and it
 * sets the folder's mode before handing the folder over.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, closeSync, constants, fchownSync, fstatSync, fsyncSync, lstatSync, mkdirSync, openSync, readSync, renameSync, statSync, writeSync, type Stats } from 'node:fs';
import { dirname, join } from 'node:path';
import { NUDGE_DIR_ENV, systemNudgeRoot, userNudgeRoot } from '../../shared/paths.js';
import { nudgeError } from './errors.js';

export const KEY_FILE = 'key';
export const SOCKET_FILE = 'nudge.sock';
const KEY_HEX = /^[0-9a-f]{64}$/;

/** The rendezvous root the agent uses (shared/paths.ts has the rule), and how it was chosen. */
export function agentNudgeRoot(option: string | undefined, opts: { platform?: NodeJS.Platform; env?: NodeJS.ProcessEnv; privileged?: boolean } = {}): { root: string; source: 'option' | 'default' } {
  if (option) return { root: option, source: 'option' };
  const platform = opts.platform ?? process.platform;
  const privileged = opts.privileged ?? (platform === 'win32' || process.geteuid?.() === 0);
  const user = privileged ? null : userNudgeRoot(platform, opts.env);
  return { root: user ?? systemNudgeRoot(platform, opts.env), source: 'default' };
}

/** The roots a helper watches, in order: the one named by --dir / CONSULTGUARD_NUDGE_DIR, else the system and this user's folder. */
export function helperNudgeRoots(option: string | undefined, platform: NodeJS.Platform = process.platform, env: NodeJS.ProcessEnv = process.env): string[] {
  const named = option ?? (env[NUDGE_DIR_ENV] || undefined);
  if (named) return [named];
  const user = userNudgeRoot(platform, env);
  return [systemNudgeRoot(platform, env), ...(user ? [user] : [])];
}

export interface UserPaths {
  dir: string;
  keyFile: string;
  socketFile: string;
}

export function userPaths(root: string, uid: number): UserPaths {
  const dir = join(root, String(uid));
  return { dir, keyFile: join(root, `${uid}.${KEY_FILE}`), socketFile: join(dir, SOCKET_FILE) };
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
 * Needs, as root, CAP_CHOWN and nothing else beyond ownership of ROOT.
 */
export function prepareUserDir(root: string, owner: Owner, chown: boolean): UserPaths & { key: Buffer } {
  mkdirSync(root, { recursive: true, mode: 0o711 });
  const rootStat = statSync(root);
  if (rootStat.uid === process.geteuid?.()) chmodSync(root, 0o711);
  const paths = userPaths(root, owner.uid);
  let st = lstatOrNull(paths.dir);
  if (st && !st.isDirectory()) {
    throw nudgeError('untrusted_helper', `${paths.dir} is not a folder (something else was put there); remove it so the agent can recreate it`);
  }
  if (!st) mkdirSync(paths.dir, { mode: 0o700 });
  st = lstatSync(paths.dir);
  // Mode first, while the folder may still be ours: afterwards it is the user's, and
  // changing it would need CAP_FOWNER, which the Linux service does not hold.
  if (st.uid === process.geteuid?.() && (st.mode & 0o777) !== 0o700) chmodSync(paths.dir, 0o700);
  if (chown && st.uid !== owner.uid) chownSync(paths.dir, owner.uid, owner.gid);
  st = lstatSync(paths.dir);
  if (st.uid !== owner.uid) {
    throw nudgeError('untrusted_helper', `${paths.dir} belongs to uid ${st.uid}, not uid ${owner.uid}; the agent must run as root to nudge other users`);
  }
  if (!isPrivate(st)) {
    throw nudgeError('untrusted_helper', `${paths.dir} has mode ${octal(st.mode)}, not 0700; its owner (uid ${owner.uid}) or the helper must make it private again (chmod 700)`);
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
    throw nudgeError('untrusted_helper', `${paths.dir} is owned by uid ${dir.uid} with mode ${octal(dir.mode)}; expected uid ${uid}, mode 0700. Refusing to nudge through it`);
  }
  const sock = lstatOrNull(paths.socketFile);
  if (!sock) return false;
  if (!sock.isSocket() || sock.uid !== uid) {
    throw nudgeError('untrusted_helper', `${paths.socketFile} is ${sock.isSocket() ? 'a socket' : 'not a socket'} owned by uid ${sock.uid}, not uid ${uid}; refusing a helper that is not that user's`);
  }
  return true;
}

/**
 * Helper side: is the folder the agent made for this user there, private and holding a key?
 * `waiting`: not yet (the agent makes it the first time it nudges this user);
 * `bad`: it exists but is not this user's folder, so the helper must not use it.
 * A folder of this user's that is not private is made private again (the helper owns it).
 */
export function helperDirState(paths: UserPaths, uid: number): { state: 'ready' | 'waiting' } | { state: 'bad'; problem: string } {
  const st = lstatOrNull(paths.dir);
  if (!st) return { state: 'waiting' };
  if (!st.isDirectory() || st.uid !== uid) {
    return { state: 'bad', problem: `${paths.dir} is owned by uid ${st.uid} with mode ${octal(st.mode)}; expected this user (uid ${uid}) and mode 0700. Ask IT to delete it; the agent recreates it` };
  }
  if (!isPrivate(st)) chmodSync(paths.dir, 0o700);
  return { state: readKey(paths.keyFile, uid) ? 'ready' : 'waiting' };
}
