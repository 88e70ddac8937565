/**
 * Several server instances on one store, as real child processes of the built server, for
 * the issue 15 scenarios: SQLite (the instances share one data folder, so one file) or
 * PostgreSQL (a throwaway cluster, one database, a data folder per instance for its own
 * files). Each instance reads the same server config file (fast alert and report loops for
 * tests). Rows are read back straight from the store, with the same SQL on either engine.
 */
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { DatabaseUrl } from '../../server/config.js';
import { pgSkipReason, sharedPostgres } from './postgres.js';
import { runCli } from './processes.js';
import { freePort, startServerProcess } from './server-process.js';
import { tempDir } from './server.js';

export type EngineName = 'sqlite' | 'postgres';

export interface Instance {
  port: number;
  url: string;
  wsUrl: string;
  child: ChildProcess;
  /** SIGKILL, as a crash or the OOM killer would; resolves once the process is gone. */
  kill(): Promise<void>;
}

export interface InstanceCluster {
  engine: EngineName;
  start(): Promise<Instance>;
  /** A new API bearer token through `consultguard-server token create` on this store. */
  token(role: 'lead' | 'admin'): Promise<string>;
  /** Rows of one query on the store (the same SQL on both engines: the schemas mirror). */
  rows<T>(sql: string): Promise<T[]>;
  /** One writing statement on the store, as another process (an operator, a script) would run it. */
  exec(sql: string): Promise<void>;
  close(): Promise<void>;
}

/** Why the scenario cannot run on this engine here (null: it can). */
export function engineSkipReason(engine: EngineName): string | null {
  if (engine === 'sqlite') return null;
  const noPg = pgSkipReason();
  if (noPg) return noPg;
  if (!DatabaseUrl.safeParse('postgres://cg@127.0.0.1:5432/cg').success) {
    return 'PostgreSQL instance scenarios SKIPPED: this build of the server refuses --database postgres:// (the PostgreSQL engine is not wired into the server yet, issue 15)';
  }
  return null;
}

export async function startInstanceCluster(engine: EngineName, config: Record<string, unknown> = {}): Promise<InstanceCluster> {
  const shared = tempDir('cg-instances-');
  const configFile = join(shared, 'server.json');
  writeFileSync(configFile, JSON.stringify(config));
  const url = engine === 'postgres' ? await (await sharedPostgres()).newDatabase('cg_instances') : null;
  const storeArgs = (data: string) => (url ? ['--data', data, '--database', url] : ['--data', data]);
  const children: Instance[] = [];

  return {
    engine,
    async start() {
      const port = await freePort();
      const data = url ? tempDir('cg-instance-') : shared;
      const child = await startServerProcess(port, data, ['--config', configFile, ...(url ? ['--database', url] : [])]);
      const instance: Instance = {
        port, url: `http://127.0.0.1:${port}`, wsUrl: `ws://127.0.0.1:${port}`, child,
        async kill() {
          if (child.exitCode !== null || child.signalCode !== null) return;
          const gone = new Promise((r) => child.once('exit', r));
          child.kill('SIGKILL');
          await gone;
        },
      };
      children.push(instance);
      return instance;
    },
    async token(role) {
      const r = await runCli('server', ['token', 'create', '--role', role, '--name', `instances-${role}`, ...storeArgs(shared)]);
      if (r.code !== 0) throw new Error(`token create exited ${r.code}: ${r.stderr}`);
      return r.stdout.trim();
    },
    async rows<T>(sql: string): Promise<T[]> {
      if (url) {
        const c = new pg.Client({ connectionString: url });
        await c.connect();
        try {
          return (await c.query(sql)).rows as T[];
        } finally {
          await c.end();
        }
      }
      const db = new Database(join(shared, 'consultguard.db'), { readonly: true, fileMustExist: true });
      try {
        return db.prepare(sql).all() as T[];
      } finally {
        db.close();
      }
    },
    async exec(sql: string): Promise<void> {
      if (url) {
        const c = new pg.Client({ connectionString: url });
        await c.connect();
        try {
          await c.query(sql);
        } finally {
          await c.end();
        }
        return;
      }
      const db = new Database(join(shared, 'consultguard.db'), { fileMustExist: true });
      try {
        db.exec(sql);
      } finally {
        db.close();
      }
    },
    async close() {
      for (const i of children.splice(0)) {
        if (i.child.exitCode !== null || i.child.signalCode !== null) continue;
        const gone = new Promise((r) => i.child.once('exit', r));
        i.child.kill('SIGTERM');
        await gone;
      }
    },
  };
}
