/** Server options: command line, then CONSULTGUARD_* environment, then config file, then defaults. */
import { validate as validCron } from 'node-cron';
import { z } from 'zod';
import type { OptionSpec } from '../shared/config.js';
import { parseCidr } from '../shared/net.js';
import { OIDC_OPTIONS, OidcOptions } from './oidc/config.js';

export const SERVER_OPTIONS: OptionSpec[] = [
  { key: 'port', flag: 'port', env: 'CONSULTGUARD_PORT', type: 'number', describe: 'TCP port (0 picks a free one; default 8470)' },
  { key: 'host', flag: 'host', env: 'CONSULTGUARD_HOST', type: 'string', describe: 'address to listen on (default 127.0.0.1)' },
  { key: 'dataDir', flag: 'data', env: 'CONSULTGUARD_DATA_DIR', type: 'string', describe: 'folder for the SQLite store (default ./data)' },
  { key: 'policiesDir', flag: 'policies', env: 'CONSULTGUARD_POLICIES_DIR', type: 'string', describe: 'policies folder (default policies/)' },
  { key: 'enrollSecret', flag: 'enroll-secret', env: 'CONSULTGUARD_ENROLL_SECRET', type: 'string', describe: 'enrolment secret(s) agents present, comma-separated (default: generated once into DATA/enroll-secret)' },
  { key: 'logLevel', flag: 'log-level', env: 'CONSULTGUARD_LOG_LEVEL', type: 'string', describe: 'trace|debug|info|warn|error (default info)' },
  { key: 'tlsCert', flag: 'tls-cert', env: 'CONSULTGUARD_TLS_CERT', type: 'string', describe: 'PEM certificate (chain): serve https/wss' },
  { key: 'tlsKey', flag: 'tls-key', env: 'CONSULTGUARD_TLS_KEY', type: 'string', describe: 'PEM private key for --tls-cert' },
  { key: 'retentionDays', flag: 'retention-days', env: 'CONSULTGUARD_RETENTION_DAYS', type: 'number', describe: 'delete violations ended more than N days ago (default 365)' },
  { key: 'forwardFile', flag: 'forward-file', env: 'CONSULTGUARD_FORWARD_FILE', type: 'string', describe: 'also write every event as a JSON line to this file (SIEM)' },
  { key: 'enrollLimit', flag: 'enroll-limit', env: 'CONSULTGUARD_ENROLL_LIMIT', type: 'number', describe: 'most agents one enrolment secret may enrol (default 10000)' },
  { key: 'quotaEventsPerHour', flag: 'quota-events-per-hour', env: 'CONSULTGUARD_QUOTA_EVENTS_PER_HOUR', type: 'number', describe: 'events (and nudge outcomes) one agent may store per hour (default 5000)' },
  { key: 'quotaBytesPerHour', flag: 'quota-bytes-per-hour', env: 'CONSULTGUARD_QUOTA_BYTES_PER_HOUR', type: 'number', describe: 'bytes of event frames one agent may send per hour (default 16777216, 16 MiB)' },
  { key: 'clockSkewSec', flag: 'clock-skew-sec', env: 'CONSULTGUARD_CLOCK_SKEW_SEC', type: 'number', describe: 'how far ahead of server time an event may be dated; later ones get the time of receipt (default 300)' },
  { key: 'smtpUrl', flag: 'smtp-url', env: 'CONSULTGUARD_SMTP_URL', type: 'string', describe: 'mail server for alert and report emails: smtp://[USER:PASS@]HOST:PORT (STARTTLS when offered) or smtps://...' },
  { key: 'mailFrom', flag: 'mail-from', env: 'CONSULTGUARD_MAIL_FROM', type: 'string', describe: 'From address of alert and report emails (default consultguard@HOSTNAME)' },
  { key: 'showNames', flag: 'show-names', env: 'CONSULTGUARD_SHOW_NAMES', type: 'boolean', describe: "show clinicians' names instead of pseudonyms (the clinic's decision: see docs/privacy.md)" },
  { key: 'retentionSchedule', flag: 'retention-schedule', env: 'CONSULTGUARD_RETENTION_SCHEDULE', type: 'string', describe: "when retention runs, a cron expression in the server's local time (default '17 */6 * * *', every 6 hours; also 5 s after start)" },
  { key: 'auditRetentionDays', flag: 'audit-retention-days', env: 'CONSULTGUARD_AUDIT_RETENTION_DAYS', type: 'number', describe: 'delete audit entries older than N days (default 730)' },
  { key: 'database', flag: 'database', env: 'CONSULTGUARD_DATABASE_URL', type: 'string', describe: 'the store: sqlite:PATH (default DATA/consultguard.db) or postgres://USER@HOST:PORT/DB' },
  { key: 'trustProxy', flag: 'trust-proxy', env: 'CONSULTGUARD_TRUST_PROXY', type: 'string', describe: 'addresses or CIDR ranges of reverse proxies / load balancers whose X-Forwarded-For is believed, comma-separated (default: none, the header is ignored)' },
  { key: 'forwardSyslog', flag: 'forward-syslog', env: 'CONSULTGUARD_FORWARD_SYSLOG', type: 'string', describe: 'also send every event as RFC 5424 syslog: udp://HOST:PORT or tcp://HOST:PORT' },
  ...OIDC_OPTIONS,
];

const SyslogUrl = z
  .string()
  .transform((s, ctx) => {
    const m = /^(udp|tcp):\/\/(\[[^\]]+\]|[^:/]+):(\d{1,5})$/.exec(s);
    if (!m) {
      ctx.addIssue({ code: 'custom', message: `expected udp://HOST:PORT or tcp://HOST:PORT, got "${s}"` });
      return z.NEVER;
    }
    return { protocol: m[1] as 'udp' | 'tcp', host: m[2]!.replace(/^\[|\]$/g, ''), port: Number(m[3]) };
  });

const SmtpUrl = z.string().refine((s) => {
  try {
    const u = new URL(s);
    return (u.protocol === 'smtp:' || u.protocol === 'smtps:') && u.hostname !== '';
  } catch {
    return false;
  }
}, { message: 'expected smtp://[USER:PASS@]HOST:PORT or smtps://[USER:PASS@]HOST:PORT' });
/**
 * `--database URL` (CONTRACTS section 1): `sqlite:PATH` (`sqlite:///abs/path` too) or
 * `postgres://USER@HOST:PORT/DB` (`postgresql://` too). The store opens it (store/open.ts);
 * a build without the PostgreSQL engine refuses such a URL there, by name.
 */
export const DatabaseUrl = z.string().transform((s, ctx) => {
  if (/^postgres(ql)?:\/\//i.test(s)) {
    try {
      const u = new URL(s);
      if (!u.hostname && !u.searchParams.get('host')) throw new Error('no host');
    } catch {
      ctx.addIssue({ code: 'custom', message: 'expected postgres://USER@HOST:PORT/DB (password in PGPASSWORD or ~/.pgpass rather than the URL)' });
      return z.NEVER;
    }
    return { engine: 'postgres' as const, url: s };
  }
  const m = /^sqlite:(?:\/\/)?(.+)$/i.exec(s);
  if (!m || !m[1]) {
    ctx.addIssue({ code: 'custom', message: `expected sqlite:PATH or postgres://USER@HOST:PORT/DB, e.g. sqlite:/var/lib/consultguard/consultguard.db; got "${s}"` });
    return z.NEVER;
  }
  return { engine: 'sqlite' as const, file: m[1] };
});

/**
 * `--trust-proxy 10.0.0.5,10.1.0.0/24` (a config file may give a list): the proxies whose
 * X-Forwarded-For names the client (server/api/client-address.ts).
 */
const TrustProxy = z.preprocess((v) => (Array.isArray(v) ? v.join(',') : v), z.string().transform((s, ctx) => {
  const ranges = [];
  for (const item of s.split(',').map((x) => x.trim()).filter((x) => x !== '')) {
    const cidr = parseCidr(item);
    if (!cidr) {
      ctx.addIssue({ code: 'custom', message: `expected IP addresses or CIDR ranges, comma-separated (e.g. 10.0.0.5,10.1.0.0/24); "${item}" is neither` });
      return z.NEVER;
    }
    ranges.push(cidr);
  }
  return ranges;
}));

export const ServerConfig = z.object({
  port: z.number().int().min(0).max(65535).default(8470),
  host: z.string().min(1).default('127.0.0.1'),
  dataDir: z.string().min(1).default('data'),
  policiesDir: z.string().min(1).optional(),
  enrollSecret: z.string().min(16, 'expected at least 16 characters').optional(),
  logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'silent']).default('info'),
  tlsCert: z.string().optional(),
  tlsKey: z.string().optional(),
  retentionDays: z.number().int().min(1).max(36500).default(365),
  /** The audit log is kept longer than what it records: who saw what stays answerable. */
  auditRetentionDays: z.number().int().min(1).max(36500).default(730),
  /**
   * When retention runs (node-cron, the server's local time; store/retention-job.ts). A
   * night-time schedule keeps its deletes away from consult hours on a busy store.
   */
  retentionSchedule: z.string().trim().refine((s) => validCron(s), { error: (iss) => `expected a cron expression such as '17 */6 * * *' (minute hour day month weekday, optional seconds first); got "${String(iss.input)}"` }).default('17 */6 * * *'),
  /** Clinicians are pseudonymous unless the clinic decides otherwise (docs/privacy.md). */
  showNames: z.boolean().default(false),
  database: DatabaseUrl.optional(),
  trustProxy: TrustProxy.optional(),
  forwardFile: z.string().optional(),
  forwardSyslog: SyslogUrl.optional(),
  helloTimeoutMs: z.number().int().min(100).default(10_000),
  pingIntervalMs: z.number().int().min(100).default(30_000),
  rate: z.object({ perSecond: z.number().positive(), burst: z.number().positive() }).default({ perSecond: 50, burst: 200 }),
  // Abuse limits (README "Security"): sized for a real clinic workstation with days of backlog.
  enrollLimit: z.number().int().min(1).default(10_000),
  quotaEventsPerHour: z.number().int().min(1).default(5000),
  quotaBytesPerHour: z.number().int().min(1024).default(16 * 1024 * 1024),
  /** The quota's window; one hour, shorter only in tests (no command-line flag). */
  quotaWindowMs: z.number().int().min(100).default(3_600_000),
  clockSkewSec: z.number().int().min(0).max(86_400).default(300),
  /** How often the gateway looks for revokes made by another process (the CLI). */
  revocationSweepMs: z.number().int().min(50).default(1000),
  smtpUrl: SmtpUrl.optional(),
  mailFrom: z.string().regex(/^[^\s@<>]+@[^\s@<>]+$/, 'expected an address such as consultguard@clinic.example').optional(),
  /**
   * The alert loop (README "Alerts and scheduled reports"): a tick each second, retries from
   * 5 s doubling to 15 min, giving up after 100 attempts (about a day); shorter only in tests.
   */
  alerts: z.object({
    tickMs: z.number().int().min(10).default(1000),
    retryBaseMs: z.number().int().min(10).default(5000),
    retryCapMs: z.number().int().min(10).default(15 * 60_000),
    maxAttempts: z.number().int().min(1).default(100),
    concurrency: z.number().int().min(1).max(64).default(4),
    timeoutMs: z.number().int().min(100).default(10_000),
    silentCheckMs: z.number().int().min(10).default(30_000),
  }).default({ tickMs: 1000, retryBaseMs: 5000, retryCapMs: 15 * 60_000, maxAttempts: 100, concurrency: 4, timeoutMs: 10_000, silentCheckMs: 30_000 }),
  /** How often this instance records itself and its policy versions in the store (server/health/instances.ts); shorter only in tests. */
  instanceBeatMs: z.number().int().min(10).default(5000),
  /** How often scheduled reports look for a period that ended (a minute; shorter in tests). */
  reportCheckMs: z.number().int().min(10).default(60_000),
  ...OidcOptions.shape,
});
export type ServerConfig = z.infer<typeof ServerConfig>;
