/**
 * The Windows rendezvous: a named pipe per user, and a per-user key folder under
 * %ProgramData%\ConsultGuard\nudge whose protected ACL lets only SYSTEM and Administrators
 * (full) and that user (read) in. The installed service host makes the folder
 * (`consultguard-service.exe user-dir DIR ACCOUNT`, installers/windows/acl.c): through a
 * handle that refuses reparse points, replacing a folder someone else made or a junction
 * planted in its place. Outside an MSI install (a developer's node on Windows) icacls sets
 * the same DACL, without those checks.
 * Node cannot set a DACL on a pipe it creates, so a stranger could squat the pipe name;
 * the key proof in ipc-protocol.ts is what makes that harmless (the squatter cannot prove
 * the key, and the agent refuses it). Pure functions here are unit-tested on Linux.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { win32 } from 'node:path';
import { installedServiceExe } from './notify/win32.js';
import { KEY_FILE, readKey, writeKey } from './rendezvous.js';
import { systemTool } from '../system-tools.js';

/** SID of LocalSystem, the account the agent service runs as. */
const SYSTEM_SID = '*S-1-5-18';

/**
 * A stable, file- and pipe-safe name for a Windows account. The domain is dropped: the
 * collector may report `CLINIC\dr.lee` while the helper knows only `dr.lee`.
 */
export function userSlug(user: string): string {
  const name = user.slice(user.lastIndexOf('\\') + 1).toLowerCase();
  const slug = name.replace(/[^a-z0-9._-]+/g, '_').slice(0, 64);
  if (slug === '' || slug === '.' || slug === '..') throw new Error(`cannot make a folder name from user "${user}"`);
  return slug;
}

export const pipePath = (user: string): string => `\\\\.\\pipe\\consultguard-nudge-${userSlug(user)}`;

export function windowsUserPaths(root: string, user: string): { dir: string; keyFile: string; pipe: string } {
  const dir = win32.join(root, userSlug(user));
  return { dir, keyFile: win32.join(dir, KEY_FILE), pipe: pipePath(user) };
}

/**
 * icacls arguments that leave the folder (and, by inheritance, the key in it) to SYSTEM
 * (full control) and the user (read): inherited entries such as "Users: read" from
 * ProgramData are removed.
 */
export function icaclsArgs(dir: string, user: string): string[] {
  return [dir, '/inheritance:r', '/grant:r', `${SYSTEM_SID}:(OI)(CI)F`, `${user}:(OI)(CI)R`];
}

/** How the agent makes a user's folder: the service host when installed, else icacls. */
export function userDirCommand(dir: string, user: string, serviceExe: string | null): { cmd: string; args: string[] } {
  return serviceExe ? { cmd: serviceExe, args: ['user-dir', dir, user] } : { cmd: systemTool('icacls', 'win32'), args: icaclsArgs(dir, user) };
}

/** Agent side: folder, ACL, then key, so the key is never readable under the inherited ACL. */
export function prepareWindowsUserDir(
  root: string,
  user: string,
  run: (cmd: string, args: string[]) => void = (c, a) => void execFileSync(c, a, { stdio: 'ignore', windowsHide: true }),
  serviceExe: string | null = existsSync(installedServiceExe()) ? installedServiceExe() : null,
): { pipe: string; key: Buffer } {
  const paths = windowsUserPaths(root, user);
  if (!serviceExe) mkdirSync(paths.dir, { recursive: true });
  const c = userDirCommand(paths.dir, user, serviceExe);
  run(c.cmd, c.args);
  const key = readKey(paths.keyFile, null) ?? writeKey(paths.keyFile, null);
  return { pipe: paths.pipe, key };
}

/** The helper's own account name as the agent's collector would report it. */
export function currentWindowsUser(env: NodeJS.ProcessEnv, username: string): string {
  return env.USERDOMAIN ? `${env.USERDOMAIN}\\${username}` : username;
}
