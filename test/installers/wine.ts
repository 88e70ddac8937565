/**
 * A throwaway Windows (wine) prefix for installing the MSI for real. Wine's own helper
 * processes (services.exe, the agent service) inherit the stdout of whatever started them,
 * so output always goes to a file, never a pipe: a pipe would never reach end-of-file.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/server.js';

export interface WinePrefix {
  prefix: string;
  /** The Windows C: drive as a Linux path. */
  driveC: string;
  run(args: string[], timeoutMs?: number): Promise<{ code: number | null; output: string }>;
  /** `C:\...` path of a Linux file, through wine's Z: drive. */
  winPath(linuxPath: string): string;
  destroy(): Promise<void>;
}

export async function createWinePrefix(): Promise<WinePrefix> {
  const base = tempDir('cg-wine-');
  const prefix = join(base, 'prefix');
  const env = {
    ...process.env,
    WINEPREFIX: prefix,
    WINEDEBUG: '-all',
    // No Mono or Gecko download prompts: the MSI needs neither.
    WINEDLLOVERRIDES: 'mscoree,mshtml=',
    DISPLAY: '',
  };
  let n = 0;
  const exec = (cmd: string, args: string[], timeoutMs = 120_000): Promise<{ code: number | null; output: string }> => {
    const outFile = join(base, `out-${n++}.txt`);
    const fd = openSync(outFile, 'w');
    return new Promise((resolve, reject) => {
      const child = spawn(cmd, args, { env, stdio: ['ignore', fd, fd] });
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`${cmd} ${args.join(' ')} took more than ${timeoutMs} ms`));
      }, timeoutMs);
      child.on('error', reject);
      child.on('exit', (code) => {
        clearTimeout(timer);
        closeSync(fd);
        resolve({ code, output: readFileSync(outFile, 'utf8') });
      });
    });
  };
  // wineserver -w waits until the prefix is fully set up; a service started before that fails.
  await exec('wineboot', ['--init'], 180_000);
  await exec('wineserver', ['-w'], 180_000);
  // node 22 refuses the Windows version a new prefix reports.
  await exec('winecfg', ['-v', 'win10']);
  await exec('wineserver', ['-w'], 60_000);
  return {
    prefix,
    driveC: join(prefix, 'drive_c'),
    run: (args, timeoutMs) => exec('wine', args, timeoutMs),
    winPath: (p) => `Z:${p.replace(/\//g, '\\')}`,
    async destroy() {
      if (existsSync(prefix)) await exec('wineserver', ['-k'], 30_000).catch(() => undefined);
      rmSync(base, { recursive: true, force: true });
    },
  };
}

/** `sc query` state name (RUNNING, STOPPED, ...) or null when the service does not exist. */
export async function serviceState(wine: WinePrefix, name: string): Promise<string | null> {
  const r = await wine.run(['sc', 'query', name]);
  return /STATE\s*:\s*\d+\s+(\w+)/.exec(r.output)?.[1] ?? null;
}

/** Values of one registry key as name -> data, or null when the key does not exist. */
export async function regValues(wine: WinePrefix, key: string): Promise<Record<string, string> | null> {
  const r = await wine.run(['reg', 'query', key]);
  if (r.code !== 0) return null;
  const out: Record<string, string> = {};
  for (const m of r.output.matchAll(/^\s{4}(\S.*?)\s{4}REG_\w+\s{4}(.*)$/gm)) out[m[1]!] = m[2]!.trim();
  return out;
}
