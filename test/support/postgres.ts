/**
 * A throwaway PostgreSQL cluster for tests and benchmarks: `initdb` into a temp folder,
 * `pg_ctl start` on a free loopback port with a unix socket folder of its own, fsync off
 * (nothing here must survive a power cut), scram passwords on TCP. One cluster per test
 * file (`sharedPostgres()`), a fresh database per test (`newDatabase()`).
 *
 * initdb refuses to run as root, and tests here often run as root: the binaries then run as
 * the unprivileged `postgres` user (or `nobody`) through `setpriv`, with the folder chowned
 * to it. As an ordinary user they run as that user. Stops by itself at process exit, by the
 * postmaster's pid (never by name): only the cluster this file started.
 *
 * Binaries: `initdb` and `pg_ctl` on PATH, else the newest /usr/lib/postgresql/N/bin
 * (Debian's `postgresql` package puts them there). Missing: suites skip with `pgSkipReason`.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, chownSync, constants, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface PgBin {
  initdb: string;
  pgCtl: string;
}

const executable = (file: string): boolean => {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/** initdb and pg_ctl: PATH first, then the newest Debian layout. */
export function findPgBin(): PgBin | null {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  try {
    const versions = readdirSync('/usr/lib/postgresql').filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
    dirs.push(...versions.map((v) => `/usr/lib/postgresql/${v}/bin`));
  } catch {
    // no Debian layout
  }
  for (const dir of dirs) {
    if (executable(join(dir, 'initdb')) && executable(join(dir, 'pg_ctl'))) return { initdb: join(dir, 'initdb'), pgCtl: join(dir, 'pg_ctl') };
  }
  return null;
}

/** Why PostgreSQL suites cannot run here (null: they can). */
export function pgSkipReason(): string | null {
  if (process.platform === 'win32') return 'PostgreSQL suites SKIPPED: the throwaway cluster is started on Linux and macOS only';
  if (findPgBin()) return null;
  return 'PostgreSQL suites SKIPPED: no initdb/pg_ctl on PATH or in /usr/lib/postgresql/*/bin; enable them with: sudo apt-get install -y postgresql';
}

/** Who runs the binaries: ourselves, or (as root) an unprivileged account. */
function runAs(): { uid: number; gid: number; prefix: string[] } | null {
  if (process.getuid?.() !== 0) return null;
  for (const name of ['postgres', 'nobody']) {
    const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${name}:`));
    if (!line) continue;
    const [, , uid, gid] = line.split(':');
    return { uid: Number(uid), gid: Number(gid), prefix: [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--'] };
  }
  throw new Error('running as root, and neither a postgres nor a nobody account exists to run initdb as');
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export interface PgCluster {
  /** postgres://USER:PASS@127.0.0.1:PORT/postgres (the maintenance database). */
  url: string;
  port: number;
  /** A new empty database on this cluster; its URL. */
  newDatabase(prefix?: string): Promise<string>;
  /** Stops the cluster (`immediate`: as a crash would, no checkpoint). */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  /** Starts it again on the same port and folder (after `stop`). */
  start(): Promise<void>;
  /** Stops it and deletes its folder. */
  destroy(): Promise<void>;
}

export async function startPostgres(): Promise<PgCluster> {
  const bin = findPgBin();
  if (!bin) throw new Error(pgSkipReason() ?? 'no PostgreSQL binaries');
  const as = runAs();
  const root = mkdtempSync(join(tmpdir(), 'cg-pg-'));
  const data = join(root, 'data');
  const sockets = join(root, 'sock');
  const password = randomBytes(18).toString('base64url');
  const user = 'consultguard';
  mkdirSync(sockets, { mode: 0o700 });
  writeFileSync(join(root, 'pw'), password, { mode: 0o600 });
  if (as) for (const p of [root, sockets, join(root, 'pw')]) chownSync(p, as.uid, as.gid);
  const exec = (file: string, args: string[]) => (as ? run('setpriv', [...as.prefix, file, ...args], { cwd: root }) : run(file, args, { cwd: root }));

  try {
    await exec(bin.initdb, ['-D', data, '-U', user, '--pwfile', join(root, 'pw'), '-E', 'UTF8', '--no-locale', '--no-sync', '--auth-local=trust', '--auth-host=scram-sha-256']);
  } catch (err) {
    rmSync(root, { recursive: true, force: true });
    throw new Error(`initdb failed (as ${as ? `uid ${as.uid}` : userInfo().username}): ${(err as { stderr?: string }).stderr ?? String(err)}`, { cause: err });
  }
  rmSync(join(root, 'pw'));
  const port = await freePort();
  const options = [
    `-p ${port}`, `-k ${sockets}`, "-c listen_addresses='127.0.0.1'",
    // A test cluster: durability off for speed (a crash test still sees what was committed
    // before an immediate stop, which writes no checkpoint but keeps the WAL already written).
    '-c fsync=off', '-c full_page_writes=off', '-c max_connections=200', '-c shared_buffers=64MB',
  ].join(' ');
  let pid = 0;
  const pidOf = (): number => {
    try {
      return Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
    } catch {
      return 0;
    }
  };
  const start = async () => {
    await exec(bin.pgCtl, ['start', '-w', '-t', '30', '-D', data, '-l', join(root, 'postgres.log'), '-o', options]);
    pid = pidOf();
  };
  const stop = async (mode: 'fast' | 'immediate' = 'fast') => {
    if (!pid) return;
    try {
      await exec(bin.pgCtl, ['stop', '-w', '-t', '30', '-m', mode, '-D', data]);
    } catch {
      // pg_ctl could not: end the postmaster we started, by its pid (its children follow it).
      try {
        process.kill(pid, 'SIGQUIT');
      } catch {
        // already gone
      }
    }
    pid = 0;
  };
  const atExit = () => {
    if (pid) {
      try {
        process.kill(pid, 'SIGQUIT');
      } catch {
        // already gone
      }
    }
    rmSync(root, { recursive: true, force: true });
  };
  process.once('exit', atExit);
  // A test worker killed outright runs no exit handler: a watchdog of its own stops the
  // cluster (by the postmaster's pid file) and deletes its folder once this process is gone.
  const watchdog = spawn('sh', ['-c', `while kill -0 ${process.pid} 2>/dev/null; do sleep 2; done; [ -f '${data}/postmaster.pid' ] && kill -QUIT "$(head -1 '${data}/postmaster.pid')" 2>/dev/null; sleep 1; rm -rf '${root}'`], { detached: true, stdio: 'ignore' });
  watchdog.unref();

  try {
    await start();
  } catch (err) {
    const log = existsSync(join(root, 'postgres.log')) ? readFileSync(join(root, 'postgres.log'), 'utf8').slice(-2000) : '';
    atExit();
    throw new Error(`pg_ctl start failed: ${(err as { stderr?: string }).stderr ?? String(err)}\n${log}`, { cause: err });
  }
  const base = `postgres://${user}:${encodeURIComponent(password)}@127.0.0.1:${port}`;
  let n = 0;
  return {
    url: `${base}/postgres`,
    port,
    async newDatabase(prefix = 'cg') {
      const name = `${prefix}_${process.pid}_${++n}_${randomBytes(3).toString('hex')}`;
      const { default: pg } = await import('pg');
      const client = new pg.Client({ connectionString: `${base}/postgres` });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } finally {
        await client.end();
      }
      return `${base}/${name}`;
    },
    stop,
    start,
    async destroy() {
      await stop('fast');
      process.removeListener('exit', atExit);
      rmSync(root, { recursive: true, force: true });
      try {
        if (watchdog.pid) process.kill(watchdog.pid);
      } catch {
        // already gone
      }
    },
  };
}

let shared: Promise<PgCluster> | null = null;

/** One cluster for the whole test file (each file runs in its own worker). */
export function sharedPostgres(): Promise<PgCluster> {
  shared ??= startPostgres();
  return shared;
}
