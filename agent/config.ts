/** Agent options: command line, then CONSULTGUARD_* environment, then config file, then defaults. */
import { homedir } from 'node:os';
import { join } from 'node:path';
import * as z from 'zod';
import type { OptionSpec } from '../shared/config.js';

export const AGENT_OPTIONS: OptionSpec[] = [
  { key: 'serverUrl', flag: 'server', env: 'CONSULTGUARD_SERVER_URL', type: 'string', describe: 'server URL, wss://HOST:PORT, or several comma-separated (instances of one cluster; the agent fails over between them)' },
  { key: 'enrollSecret', flag: 'enroll-secret', env: 'CONSULTGUARD_ENROLL_SECRET', type: 'string', describe: 'enrolment secret (needed until the agent has its own token)' },
  { key: 'stateDir', flag: 'state', env: 'CONSULTGUARD_STATE_DIR', type: 'string', describe: 'folder for identity, policy cache and outbox' },
  { key: 'nudgeDir', flag: 'nudge-dir', env: 'CONSULTGUARD_NUDGE_DIR', type: 'string', describe: 'folder where the agent meets the users\' nudge helpers (default: the per-OS folder, see README)' },
  { key: 'site', flag: 'site', env: 'CONSULTGUARD_SITE', type: 'string', describe: 'site name, used to pick the policy' },
  { key: 'group', flag: 'group', env: 'CONSULTGUARD_GROUP', type: 'string', describe: 'group name, used to pick the policy' },
  { key: 'insecure', flag: 'insecure', env: 'CONSULTGUARD_INSECURE', type: 'boolean', describe: 'allow plain ws:// to a non-loopback server (test networks only)' },
  { key: 'caFile', flag: 'ca', env: 'CONSULTGUARD_CA_FILE', type: 'string', describe: 'PEM file of a CA to trust for the server certificate' },
  { key: 'logLevel', flag: 'log-level', env: 'CONSULTGUARD_LOG_LEVEL', type: 'string', describe: 'trace|debug|info|warn|error (default info)' },
  { key: 'logFile', flag: 'log-file', env: 'CONSULTGUARD_LOG_FILE', type: 'string', describe: 'log file (rotated at 10 MB, 5 kept), or - for stderr (default: stderr on a terminal, else the log folder)' },
];

/** Where the service logs on each OS. */
export function defaultLogDir(): string {
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (process.platform === 'win32') return join(process.env.ProgramData ?? 'C:\\ProgramData', 'ConsultGuard', 'logs');
  if (process.platform === 'darwin') return root ? '/Library/Logs/ConsultGuard' : join(homedir(), 'Library', 'Logs', 'ConsultGuard');
  return root ? '/var/log/consultguard' : join(process.env.XDG_STATE_HOME ?? join(homedir(), '.local', 'state'), 'consultguard', 'logs');
}

/** Where a service keeps its state on each OS, or a per-user folder when not privileged. */
export function defaultStateDir(): string {
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (process.platform === 'win32') return join(process.env.ProgramData ?? 'C:\\ProgramData', 'ConsultGuard', 'agent');
  if (process.platform === 'darwin') return root ? '/Library/Application Support/ConsultGuard/agent' : join(homedir(), 'Library', 'Application Support', 'ConsultGuard', 'agent');
  return root ? '/var/lib/consultguard/agent' : join(process.env.XDG_STATE_HOME ?? join(homedir(), '.local', 'state'), 'consultguard', 'agent');
}

/** The config file the installers write. */
export function defaultConfigFile(): string {
  if (process.platform === 'win32') return join(process.env.ProgramData ?? 'C:\\ProgramData', 'ConsultGuard', 'agent.json');
  if (process.platform === 'darwin') return '/Library/Application Support/ConsultGuard/agent.json';
  return '/etc/consultguard/agent.json';
}

export const AgentConfig = z.object({
  /** One URL or `URL1,URL2,...` (a config file may give a list); checked by agent/servers.ts. */
  serverUrl: z.preprocess((v) => (Array.isArray(v) ? v.join(',') : v), z.string().min(1, 'expected the server URL')),
  enrollSecret: z.string().min(1).optional(),
  stateDir: z.string().min(1).default(defaultStateDir),
  /** The nudge rendezvous root; unset: the per-OS rule of shared/paths.ts (not derived from stateDir). */
  nudgeDir: z.string().min(1).optional(),
  site: z.string().max(128).optional(),
  group: z.string().max(128).optional(),
  insecure: z.boolean().default(false),
  caFile: z.string().optional(),
  logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'silent']).default('info'),
  logFile: z.string().min(1).optional(),
  outbox: z.object({ maxEvents: z.number().int().min(100), maxBytes: z.number().int().min(65536) }).default({ maxEvents: 50_000, maxBytes: 64 * 1024 * 1024 }),
  statusIntervalMs: z.number().int().min(1000).default(30_000),
  /** Reconnect back-off: doubles from min to max, with jitter. */
  reconnect: z.object({ minMs: z.number().int().min(50), maxMs: z.number().int().min(100) }).default({ minMs: 1000, maxMs: 60_000 }),
  collectTimeoutMs: z.number().int().min(100).default(15_000),
});
export type AgentConfig = z.infer<typeof AgentConfig>;
