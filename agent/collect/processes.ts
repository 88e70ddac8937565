/**
 * Running processes: name, path, command line, parent, user. ps-list on Windows; on macOS
 * one `/bin/ps` run (darwin-ps.ts, full paths); on Linux /proc directly (measured ~3x
 * cheaper than ps-list, which runs `ps` twice; see `npm run bench`). The snapshot is held
 * in memory for one match and never sent: only what matched leaves the machine.
 */
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import type { ProcessInfo } from '../../shared/snapshot.js';
import { createDarwinCollectors } from './darwin.js';
import { createProcProcessCollector } from './proc-processes.js';
import type { WindowsCollectors } from './win-native.js';
import { createWindowsDetails } from './windows-details.js';

/** Which process names deserve the costly details (path, command line, owner) where they are not free. */
export type NameFilter = (name: string) => boolean;

/** uid -> user name, from /etc/passwd where there is one (Linux), refreshed on a miss at most once a minute. */
export function createUserNames() {
  let names = new Map<number, string>();
  let loadedAt = 0;
  const self = userInfo();
  const load = () => {
    loadedAt = Date.now();
    names = new Map([[self.uid, self.username]]);
    try {
      for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
        const [name, , uid] = line.split(':');
        if (name && uid !== undefined && uid !== '') names.set(Number(uid), name);
      }
    } catch {
      // no /etc/passwd (Windows) or unreadable: fall back to uid:N
    }
  };
  return (uid: number | undefined): string | undefined => {
    if (uid === undefined) return undefined;
    if (!names.has(uid) && Date.now() - loadedAt > 60_000) load();
    return names.get(uid) ?? `uid:${uid}`;
  };
}

export function createProcessCollector(platform: NodeJS.Platform = process.platform, windows?: WindowsCollectors) {
  const userName = createUserNames();
  if (platform === 'linux') return createProcProcessCollector(userName);
  if (platform === 'darwin') return createDarwinCollectors().processes;
  // Windows: the native collector (win-native.ts), which falls back to ps-list by itself.
  if (platform === 'win32' && windows) return windows.processes;
  return createPsListCollector(userName, platform);
}

export function createPsListCollector(userName = createUserNames(), platform: NodeJS.Platform = process.platform) {
  const windowsDetails = platform === 'win32' ? createWindowsDetails() : null;
  return async function collectProcesses(wanted?: NameFilter): Promise<ProcessInfo[]> {
    // Loaded only where it is used (Windows, macOS).
    const { default: psList } = await import('ps-list');
    const list = await psList();
    const out = list.map((p) => {
      const info: ProcessInfo = { pid: p.pid, ppid: p.ppid, name: p.name };
      const ext = p as { path?: string; cmd?: string; uid?: number };
      if (ext.path) info.path = ext.path;
      if (ext.cmd) info.cmd = ext.cmd;
      const user = userName(ext.uid);
      if (user) info.user = user;
      return info;
    });
    if (windowsDetails) {
      // Only when the native collector is missing or failing: fastlist gives names only,
      // so fill in the few processes that could matter from PowerShell's CIM query.
      const want = out.filter((p) => !wanted || wanted(p.name));
      try {
        const details = await windowsDetails(want);
        for (const p of want) Object.assign(p, details.get(p.pid));
      } catch {
        // No details (PowerShell blocked by policy?): names still match, paths are unverified.
      }
    }
    return out;
  };
}
