/**
 * Runs the external packaging tools (wixl, msibuild, dpkg-deb, bsdtar, npm, ...). A failing
 * tool becomes one error that names the command and the tail of what it printed, so a
 * broken build says which step broke without scrolling through a log.
 */
import { spawn, spawnSync } from 'node:child_process';
import { AppError } from '../shared/errors.js';

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Written to the tool's stdin, then closed. */
  input?: string | Buffer;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdin.on('error', () => undefined); // a tool that exits without reading stdin is not our error
    child.stdin.end(opts.input ?? '');
    child.on('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'ENOENT' ? new AppError('internal', `${cmd} is not installed (${missingToolHint(cmd)})`) : err);
    });
    child.on('close', (code, signal) => {
      if (code === 0) return resolve({ stdout, stderr });
      const tail = (stderr.trim() || stdout.trim()).split('\n').slice(-6).join(' | ');
      reject(new AppError('internal', `${cmd} ${args.join(' ')} failed (${signal ?? `exit ${code}`}): ${tail}`));
    });
  });
}

/** Debian packages that provide each tool the build uses. */
export const TOOL_PACKAGES: Record<string, string> = {
  wixl: 'wixl',
  msibuild: 'msitools',
  msiinfo: 'msitools',
  'x86_64-w64-mingw32-gcc': 'gcc-mingw-w64-x86-64',
  osslsigncode: 'osslsigncode',
  bsdtar: 'libarchive-tools',
  cpio: 'cpio',
  'dpkg-deb': 'dpkg',
  npm: 'npm',
  tar: 'tar',
  // Only the tests use these: wine to install the MSI for real, openssl to make a signing certificate.
  wine: 'wine wine64',
  wineboot: 'wine wine64',
  wineserver: 'wine wine64',
  dpkg: 'dpkg',
  openssl: 'openssl',
};

export function missingToolHint(cmd: string): string {
  const pkg = TOOL_PACKAGES[cmd];
  return pkg ? `apt-get install ${pkg}` : 'install it and retry';
}

/** True when `cmd` is on PATH. */
export function hasTool(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v "$1" >/dev/null`, 'sh', cmd]).status === 0;
}

/** Throws one error listing every missing tool with the apt-get line that installs them. */
export function requireTools(what: string, tools: readonly string[]): void {
  const missing = tools.filter((t) => !hasTool(t));
  if (missing.length === 0) return;
  const pkgs = [...new Set(missing.map((t) => TOOL_PACKAGES[t] ?? t))];
  throw new AppError('internal', `building the ${what} needs ${missing.join(', ')}: apt-get install ${pkgs.join(' ')}`);
}
