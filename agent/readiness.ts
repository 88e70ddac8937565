/**
 * Approved-app readiness (issue 14): before each consult window (10 minutes ahead), when
 * consult hours start, at agent start and with every new policy, the agent checks that
 * what the nudge opens is there, so a nudge never points at something broken:
 * - a per-OS launch target (`approved.open.<os>`) must exist: Linux a `.desktop` id in the
 *   XDG application folders, or a command on PATH / an absolute path; Windows an .exe path
 *   (an AppUserModelID, `Publisher.App_hash!App`, is looked for as the package folder under
 *   %ProgramFiles%\WindowsApps, whose listing the SYSTEM service may read); macOS an app
 *   name in /Applications or ~/Applications, or a bundle id found by `mdfind`. Windows and
 *   macOS lookups are unit-level here (no such machine in CI);
 * - otherwise its web address must answer an HTTPS HEAD within 5 s (any status below 500:
 *   a 405 for HEAD still proves the service is up). A vendor scheme (`vendor://`) on Linux
 *   needs a handler (`xdg-mime query default x-scheme-handler/vendor`).
 * The lead sees the result in the agent's status (`approvedAppReady`, `approvedAppCheckedAt`,
 * `approvedAppProblem`; /api/agents shows them as `approvedApp`); the clinician's nudge says
 * the approved app is not reachable and to call IT, instead of only pointing at it.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { isWithinConsultHours } from '../shared/hours.js';
import { zoneLocalTime } from '../shared/zone-clock.js';
import type { EffectivePolicy } from '../shared/policy.js';
import { which } from './nudge/notify/run.js';

export interface Readiness {
  ready: boolean;
  checkedAt: string;
  problem: string | null;
}

export interface ReadinessDeps {
  platform?: NodeJS.Platform;
  env?: NodeJS.ProcessEnv;
  exists?: (path: string) => boolean;
  run?: (cmd: string, args: string[]) => Promise<string>;
  /** The HEAD request (default `headStatus`). */
  head?: (url: string, timeoutMs: number) => Promise<number | string>;
  timeoutMs?: number;
}

const runCommand = (cmd: string, args: string[]): Promise<string> =>
  new Promise((resolve) => execFile(cmd, args, { timeout: 5000, windowsHide: true }, (err, stdout) => resolve(err ? '' : String(stdout))));

async function targetProblem(target: string, d: Required<Omit<ReadinessDeps, 'head' | 'timeoutMs'>>): Promise<string | null> {
  const { platform, env, exists } = d;
  if (platform === 'linux') {
    if (target.endsWith('.desktop')) {
      const dirs = [env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share'), ...(env.XDG_DATA_DIRS ?? '/usr/local/share:/usr/share').split(':'), '/var/lib/flatpak/exports/share', '/var/lib/snapd/desktop'];
      return dirs.some((dir) => dir && exists(join(dir, 'applications', target))) ? null : `the launch target ${target} is not installed (no such .desktop file in the application folders)`;
    }
    const cmd = target.trim().split(/\s+/)[0]!;
    return (cmd.startsWith('/') ? exists(cmd) : which(cmd, [], env) !== null) ? null : `the launch command ${cmd} is not installed`;
  }
  if (platform === 'win32') {
    if (target.includes('!')) {
      const family = target.split('!')[0]!;
      const [name, publisher] = [family.split('_')[0]!, family.split('_').pop()!];
      const out = await d.run('powershell.exe', ['-NoProfile', '-Command', `Get-AppxPackage -AllUsers -Name '${name.replace(/'/g, '')}' | Where-Object PublisherId -eq '${publisher.replace(/'/g, '')}' | Select-Object -First 1 -ExpandProperty PackageFamilyName`]);
      return out.trim() ? null : `the app ${family} is not installed for any user`;
    }
    return exists(target) ? null : `the launch target ${target} does not exist`;
  }
  if (/^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$/.test(target)) {
    const out = await d.run('mdfind', [`kMDItemCFBundleIdentifier == '${target.replace(/'/g, '')}'`]);
    return out.trim() ? null : `no app with bundle id ${target} is installed`;
  }
  return [join('/Applications', `${target}.app`), join(homedir(), 'Applications', `${target}.app`)].some(exists) ? null : `${target}.app is not in /Applications`;
}

async function urlProblem(url: string, d: ReadinessDeps & { run: NonNullable<ReadinessDeps['run']>; platform: NodeJS.Platform }): Promise<string | null> {
  const scheme = url.split(':')[0]!.toLowerCase();
  if (scheme !== 'https' && scheme !== 'http') {
    if (d.platform !== 'linux') return null; // a vendor scheme's handler is not looked up on Windows/macOS
    const handler = (await d.run('xdg-mime', ['query', 'default', `x-scheme-handler/${scheme}`])).trim();
    return handler ? null : `nothing on this computer opens ${scheme}:// links (the approved app is not installed)`;
  }
  const timeoutMs = d.timeoutMs ?? 5000;
  const answer = await (d.head ?? headStatus)(url, timeoutMs);
  if (typeof answer === 'number') return answer < 500 ? null : `${new URL(url).host} answers with HTTP ${answer}`;
  return `${new URL(url).host} does not answer (${answer === 'timeout' ? `no answer within ${timeoutMs / 1000} s` : answer})`;
}

/**
 * One HEAD request, redirects not followed: the status, or why there is none (an error
 * code such as ECONNREFUSED, or 'timeout'). node:http(s), not the global `fetch`: the first
 * fetch loads undici and compiles its WebAssembly HTTP parser, measured at +9.8 MB of
 * resident memory for the life of the process (+3.5 MB for https.request, which wss://
 * loads anyway).
 */
export async function headStatus(url: string, timeoutMs: number): Promise<number | string> {
  const { request } = url.toLowerCase().startsWith('https:') ? await import('node:https') : await import('node:http');
  return new Promise((resolve) => {
    // The whole exchange (name lookup, connect, TLS, headers) within timeoutMs.
    const timer = setTimeout(() => done('timeout'), timeoutMs);
    const req = request(url, { method: 'HEAD' }, (res) => {
      res.resume();
      done(res.statusCode ?? 0);
    });
    req.on('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.name));
    req.end();
    function done(answer: number | string): void {
      clearTimeout(timer);
      resolve(answer);
      req.destroy();
    }
  });
}

export async function checkApprovedApp(policy: Pick<EffectivePolicy, 'approved'>, at: Date, deps: ReadinessDeps = {}): Promise<Readiness> {
  const platform = deps.platform ?? process.platform;
  const d = { platform, env: deps.env ?? process.env, exists: deps.exists ?? existsSync, run: deps.run ?? runCommand };
  const target = policy.approved.open[platform as 'win32' | 'darwin' | 'linux'];
  const problem = target ? await targetProblem(target, d) : await urlProblem(policy.approved.url, { ...deps, ...d });
  return { ready: problem === null, checkedAt: at.toISOString(), problem: problem && `${policy.approved.name}: ${problem}` };
}

/** Runs the check at the right times and keeps the latest result. */
export function createReadiness(opts: { now: () => Date; policy: () => EffectivePolicy | null; onResult: (r: Readiness | null, changed: boolean) => void; deps?: ReadinessDeps; tickMs?: number }) {
  let last: Readiness | null = null;
  let lastAt = 0;
  let running = false;
  const LEAD_MS = 10 * 60_000;
  const EVERY_MS = 30 * 60_000;

  async function check(): Promise<void> {
    const policy = opts.policy();
    if (!policy || running) return;
    if (policy.approved.check === false) {
      // Switched off by the policy: nothing reported, and nudges carry no note.
      if (last !== null) opts.onResult(null, true);
      last = null;
      return;
    }
    running = true;
    try {
      const r = await checkApprovedApp(policy, opts.now(), opts.deps);
      const changed = last === null || last.ready !== r.ready || last.problem !== r.problem;
      last = r;
      lastAt = opts.now().getTime();
      opts.onResult(r, changed);
    } finally {
      running = false;
    }
  }
  const timer = setInterval(() => {
    const policy = opts.policy();
    const t = opts.now().getTime();
    if (!policy || t - lastAt < EVERY_MS) return;
    // Inside consult hours or within 10 minutes of a window: the clinician may need the app soon.
    if (isWithinConsultHours(policy, new Date(t), zoneLocalTime) || isWithinConsultHours(policy, new Date(t + LEAD_MS), zoneLocalTime)) void check();
  }, opts.tickMs ?? 5 * 60_000);
  timer.unref();
  return { check, current: (): Readiness | null => last, stop: () => clearInterval(timer) };
}
