/**
 * How the macOS collectors run their tools: by absolute path (never through PATH), in the
 * C locale (ps prints `lstart` in the locale's words), with a time limit, and keeping the
 * output of tools that exit 1 for "nothing matched" (lsof does when there is no UDP socket).
 */
import { execFile } from 'node:child_process';

export type DarwinRunner = (file: string, args: string[]) => Promise<string>;

export const darwinRunner: DarwinRunner = (file, args) =>
  new Promise((resolve, reject) => {
    execFile(file, args, { env: { LC_ALL: 'C', LANG: 'C', PATH: '/usr/bin:/bin:/usr/sbin:/sbin' }, timeout: 10_000, maxBuffer: 64 * 1024 * 1024, killSignal: 'SIGKILL' },
      (err, stdout) => {
        if (err && !(typeof err.code === 'number' && err.code === 1 && stdout)) reject(err);
        else resolve(stdout);
      });
  });
