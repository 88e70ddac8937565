/** Server options: command line, then CONSULTGUARD_* environment, then config file, then defaults. */
import { z } from 'zod';
import type { OptionSpec } from '../shared/config.js';

export const SERVER_OPTIONS: OptionSpec[] = [
  { key: 'port', flag: 'port', env: 'CONSULTGUARD_PORT', type: 'number', describe: 'TCP port (0 picks a free one; default 8470)' },
  { key: 'host', flag: 'host', env: 'CONSULTGUARD_HOST', type: 'string', describe: 'address to listen on (default 127.0.0.1)' },
  { key: 'dataDir', flag: 'data', env: 'CONSULTGUARD_DATA_DIR', type: 'string', describe: 'folder for the SQLite store (default ./data)' },
  { key: 'policiesDir', flag: 'policies', env: 'CONSULTGUARD_POLICIES_DIR', type: 'string', describe: 'policies folder (default policies/)' },
  { key: 'enrollSecret', flag: 'enroll-secret', env: 'CONSULTGUARD_ENROLL_SECRET', type: 'string', describe: 'enrolment secret(s) agents present, comma-separated (default: generated once into DATA/enroll-secret)' },
  { key: 'logLevel', flag: 'log-level', env: 'CONSULTGUARD_LOG_LEVEL', type: 'string', describe: 'trace|debug|info|warn|error (default info)' },
];

export const ServerConfig = z.object({
  port: z.number().int().min(0).max(65535).default(8470),
  host: z.string().min(1).default('127.0.0.1'),
  dataDir: z.string().min(1).default('data'),
  policiesDir: z.string().min(1).optional(),
  enrollSecret: z.string().min(16, 'expected at least 16 characters').optional(),
  logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'silent']).default('info'),
  helloTimeoutMs: z.number().int().min(100).default(10_000),
  pingIntervalMs: z.number().int().min(100).default(30_000),
  rate: z.object({ perSecond: z.number().positive(), burst: z.number().positive() }).default({ perSecond: 50, burst: 200 }),
});
export type ServerConfig = z.infer<typeof ServerConfig>;
