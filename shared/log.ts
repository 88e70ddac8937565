/**
 * One pino root per program; modules take `log.child({ module })`. Secrets never reach a
 * log line: tokens, enrolment secrets, passwords and auth headers are redacted wherever
 * they appear in a logged object.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger } from 'pino';

export const REDACT_PATHS = [
  'token', '*.token', 'enrollSecret', '*.enrollSecret', 'password', '*.password', 'secret', '*.secret',
  'authorization', '*.authorization', 'headers.authorization', 'headers.cookie', 'req.headers.authorization', 'req.headers.cookie',
  // Single sign-on (server/oidc/): none is logged on purpose; these are the belt to that.
  'oidcClientSecret', '*.oidcClientSecret', 'clientSecret', '*.clientSecret', 'id_token', '*.id_token', 'access_token', '*.access_token', 'refresh_token', '*.refresh_token',
];

export interface LogOptions {
  name: string;
  level?: string;
  /** Where lines go; default stderr (stdout is kept for command output such as `scan`). */
  destination?: DestinationStream | string;
}

export function createLogger(opts: LogOptions): Logger {
  const dest = typeof opts.destination === 'string' || opts.destination === undefined
    ? pino.destination({ dest: opts.destination ?? 2, sync: opts.destination === undefined, mkdir: true })
    : opts.destination;
  return pino(
    {
      name: opts.name,
      level: opts.level ?? process.env.CONSULTGUARD_LOG_LEVEL ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    dest,
  );
}

/**
 * A size-rotated log file (pino-roll used directly as the destination, in this thread:
 * no worker thread for the agent to carry). `path` without extension gets `.log`.
 */
export async function rotatingFile(path: string): Promise<DestinationStream> {
  // The folder first, synchronously: a folder that cannot be made (a HOME that does not
  // exist, no permission) is then an exception the caller handles, not an unhandled
  // 'error' event on the stream that ends the process later.
  mkdirSync(dirname(path), { recursive: true });
  const { default: roll } = await import('pino-roll');
  return (await roll({ file: path, size: '10m', limit: { count: 5 }, mkdir: true })) as DestinationStream;
}

/** A logger that drops everything (tests, one-shot commands with --quiet). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
