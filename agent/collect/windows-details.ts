/**
 * Windows FALLBACK only (the native collector, win-native.ts, is the normal path and never
 * runs this): when consultguard-collector.exe is missing or failing, fastlist (ps-list) gives
 * names only, and path, command line and owner come from one CIM query, run only for
 * processes whose name could matter (a catalog app or a browser), and cached per (pid, name)
 * for the life of the process. It starts PowerShell, which a locked-down machine may block
 * (then names still match, paths are unverified) and which wine does not have.
 */
import { execFile } from 'node:child_process';

export interface ProcessDetails {
  path?: string;
  cmd?: string;
  user?: string;
}

export type Runner = (file: string, args: string[]) => Promise<string>;

const defaultRunner: Runner = (file, args) =>
  new Promise((resolve, reject) => {
    execFile(file, args, { windowsHide: true, timeout: 10_000, maxBuffer: 8 * 1024 * 1024 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
  });

/** The PowerShell that returns [{pid, path, cmd, user}] for `pids` as compact JSON. */
export function detailsScript(pids: number[]): string {
  const filter = pids.map((p) => `ProcessId=${Math.trunc(p)}`).join(' OR ');
  return [
    `Get-CimInstance Win32_Process -Filter '${filter}' | ForEach-Object {`,
    '$o = Invoke-CimMethod -InputObject $_ -MethodName GetOwner;',
    "[pscustomobject]@{ pid = $_.ProcessId; path = $_.ExecutablePath; cmd = $_.CommandLine; user = $(if ($o.User) { if ($o.Domain) { \"$($o.Domain)\\$($o.User)\" } else { $o.User } } else { $null }) }",
    '} | ConvertTo-Json -Compress',
  ].join(' ');
}

export function parseDetails(stdout: string): Map<number, ProcessDetails> {
  const out = new Map<number, ProcessDetails>();
  const text = stdout.trim();
  if (!text) return out;
  const parsed = JSON.parse(text) as unknown;
  for (const r of Array.isArray(parsed) ? parsed : [parsed]) {
    const row = r as { pid?: unknown; path?: unknown; cmd?: unknown; user?: unknown };
    if (typeof row.pid !== 'number') continue;
    const d: ProcessDetails = {};
    if (typeof row.path === 'string' && row.path) d.path = row.path;
    if (typeof row.cmd === 'string' && row.cmd) d.cmd = row.cmd;
    if (typeof row.user === 'string' && row.user) d.user = row.user;
    out.set(row.pid, d);
  }
  return out;
}

export function createWindowsDetails(run: Runner = defaultRunner) {
  let cache = new Map<number, { name: string; details: ProcessDetails }>();
  return async function details(procs: Array<{ pid: number; name: string }>): Promise<Map<number, ProcessDetails>> {
    const live = new Set(procs.map((p) => p.pid));
    cache = new Map([...cache].filter(([pid]) => live.has(pid)));
    const missing = procs.filter((p) => cache.get(p.pid)?.name !== p.name);
    if (missing.length > 0) {
      const found = parseDetails(await run('powershell.exe', ['-NoProfile', '-NonInteractive', '-Command', detailsScript(missing.map((p) => p.pid))]));
      // A process gone between listing and querying is cached as empty until its pid changes.
      for (const p of missing) cache.set(p.pid, { name: p.name, details: found.get(p.pid) ?? {} });
    }
    return new Map(procs.map((p) => [p.pid, cache.get(p.pid)?.details ?? {}]));
  };
}
