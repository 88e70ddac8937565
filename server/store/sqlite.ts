/**
 * The SQLite engine of the store interface (types.ts): a thin async adapter over the
 * synchronous modules in this folder (agents.ts, violations.ts, ...), which stay as they
 * are. better-sqlite3 runs each call to completion on the calling thread, so a method here
 * does its work at once and answers a settled Promise: ingest is committed when its
 * Promise resolves, as before.
 *
 * - Transactions (`transaction(fn)`, for admin commands): BEGIN IMMEDIATE on the one
 *   connection, and every other call through this store waits until it ends (an await in
 *   `fn` must not let an unrelated write slip into it). Calls made through `tx` go straight on.
 * - Change feed: `notify` reaches this process's subscribers at once; commits by other
 *   connections (the CLI, a second instance on the same file) are seen through
 *   `PRAGMA data_version`, polled every `changePollMs` and before each ingested batch, and
 *   wake every subscriber (SQLite cannot tell which tables changed).
 * - Cluster jobs: one machine, one file: a job simply runs.
 * - Backup: SQLite's online backup API (a consistent copy while the server runs).
 *
 * The same on Windows, macOS and Linux (better-sqlite3 ships the engine).
 */
import { chmodSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../shared/log.js';
import { briefly, openDb, prepareDataDir, type Db } from './db.js';
import { createAgentStore } from './agents.js';
import { createAlertStore } from './alerts.js';
import { createApiTokenStore } from './tokens.js';
import { createSecretStore } from './secrets.js';
import { createUserStore } from './users.js';
import { createAuditStore } from './audit.js';
import { createViolationStore } from './violations.js';
import { createPeople } from './people.js';
import { createRevealStore } from './reveals.js';
import { createSubjects } from './subjects.js';
import { createExceptionStore } from './exceptions.js';
import { createInstanceStore } from './instances.js';
import { createPresenceStore } from './presence.js';
import { createOidcStore } from './oidc.js';
import { createRollups, type Rollups } from './rollups.js';
import { pruneAll, pruneOnce, type Pruned } from './retention.js';
import { runStoreTask } from './worker/run-worker.js';
import type { StoreTask } from './worker/store-worker.js';
import { migrations } from './migrations/index.js';
import { createReportStore } from '../reports/store.js';
import type { SubjectExport } from '../../shared/api-types.js';
import type { ChangeFeed, ChangeTopic, FeedCursor, Store, ViolationFilter } from './types.js';

export interface SqliteOptions {
  showNames?: boolean;
  now?: () => number;
  /** How often commits by other connections are looked for (default 1000 ms). */
  changePollMs?: number;
  log?: Logger;
  /** Single sign-ins under way at once, at most (default oidc.ts PENDING_MAX). */
  oidcPendingMax?: number;
}

/** The SQLite engine; `db` is its handle, for SQLite-only code (tests that backdate rows, benchmarks); `rollups` its roll-up tables (reports, the CSV worker, `rollups rebuild`). */
export type SqliteStore = Store & { readonly db: Db; readonly rollups: Rollups };

type Fn = (...args: never[]) => unknown;
type Lifted<T, K extends keyof T> = { [P in K]: T[P] extends (...a: infer A) => infer R ? (...a: A) => Promise<Awaited<R>> : never };
type Gate = <F extends Fn>(fn: F) => (...a: Parameters<F>) => Promise<Awaited<ReturnType<F>>>;

const LATEST = Math.max(...migrations.map((m) => m.version));
const coded = (code: string): Error => Object.assign(new Error(code), { code });

function fileId(file: string): string | null {
  try {
    const st = statSync(file);
    return `${st.dev}:${st.ino}`;
  } catch {
    return null;
  }
}

/** The change feed: local notifies at once; other connections' commits through data_version. */
function createChangeFeed(db: Db, pollMs: number, log?: Logger) {
  const subs = new Map<ChangeTopic, Set<(payload?: string) => void>>();
  const dataVersion = db.prepare<[], number>('PRAGMA data_version').pluck();
  let seen = dataVersion.get()!;
  let timer: NodeJS.Timeout | null = null;
  const call = (cb: (payload?: string) => void, payload?: string) => {
    try {
      cb(payload);
    } catch (err) {
      log?.warn({ err }, 'a change-feed subscriber failed');
    }
  };
  /** One pragma; when another connection committed, every subscriber hears of it. */
  function check(): void {
    if (!db.open || subs.size === 0) return;
    const v = dataVersion.get()!;
    if (v === seen) return;
    seen = v;
    for (const set of subs.values()) for (const cb of [...set]) call(cb);
  }
  const feed: ChangeFeed = {
    subscribe(topic, cb) {
      const set = subs.get(topic) ?? new Set();
      subs.set(topic, set);
      set.add(cb);
      if (!timer) {
        timer = setInterval(() => {
          try {
            check();
          } catch (err) {
            log?.warn({ err }, 'change feed check failed; retrying');
          }
        }, pollMs);
        timer.unref();
      }
      return () => {
        set.delete(cb);
        if (set.size === 0) subs.delete(topic);
      };
    },
    notify(topic, payload) {
      for (const cb of [...(subs.get(topic) ?? [])]) call(cb, payload);
      return Promise.resolve();
    },
  };
  return { feed, check, stop: () => timer && clearInterval(timer) };
}

/**
 * Opens (creating and migrating) the SQLite store at `file` (default DATA/consultguard.db).
 * Synchronous: SQLite opens in microseconds, and tests and the CLI keep a plain call.
 */
export function createSqliteStore(dataDir: string, file: string | undefined, opts: SqliteOptions = {}): SqliteStore {
  const now = opts.now ?? Date.now;
  prepareDataDir(dataDir);
  const path = file ?? join(dataDir, 'consultguard.db');
  const db = openDb(path);
  const opened = db.memory ? null : fileId(db.name);

  const people = createPeople(db, { showNames: opts.showNames, now });
  const users = createUserStore(db, now);
  const rollups = createRollups(db, now);
  const m = {
    agents: createAgentStore(db, now),
    violations: createViolationStore(db, people, now, rollups),
    reveals: createRevealStore(db, people, now),
    subjects: createSubjects(db, people),
    apiTokens: createApiTokenStore(db, now),
    secrets: createSecretStore(db, now),
    users,
    oidc: createOidcStore(db, users, now, opts.oidcPendingMax),
    audit: createAuditStore(db, now),
    exceptions: createExceptionStore(db, now, rollups),
    alerts: createAlertStore(db, now),
    reports: createReportStore(db, now, rollups),
    instances: createInstanceStore(db, now),
    presence: createPresenceStore(db, now),
  };
  const storedUser = db.prepare<[string, string], { user: string | null }>('SELECT user FROM violations WHERE agent_id = ? AND id = ?');
  // One person whatever the case the OS reported (CLINIC\\Dr.Lee, clinic\\dr.lee).
  const countByUser = db.prepare<[string, number, number], { n: number }>('SELECT count(*) AS n FROM violations WHERE user = ? COLLATE NOCASE AND started_at >= ? AND started_at <= ?');
  const countByUserSite = db.prepare<[string, number, number, string], { n: number }>('SELECT count(*) AS n FROM violations WHERE user = ? COLLATE NOCASE AND started_at >= ? AND started_at <= ? AND site = ?');
  const changes = createChangeFeed(db, opts.changePollMs ?? 1000, opts.log);

  // Admin transactions: while one is open, calls from outside it wait for its end.
  let txEnd: Promise<void> | null = null;
  const outside: Gate = <F extends Fn>(fn: F) => async (...a: Parameters<F>): Promise<Awaited<ReturnType<F>>> => {
    while (txEnd) await txEnd;
    return fn(...a) as Awaited<ReturnType<F>>;
  };
  const inside: Gate = (fn) => (...a) => {
    try {
      return Promise.resolve(fn(...a)) as Promise<Awaited<ReturnType<typeof fn>>>;
    } catch (err) {
      return Promise.reject(err as Error);
    }
  };

  // The subject export and retention scan many rows: from outside a transaction on a file,
  // a worker thread with its own connection does them (worker/store-worker.ts), so the
  // event loop keeps serving acks. Inside an admin transaction (its writes not committed
  // yet) and in memory (no file to share) they run here, as before.
  const workers = new Set<() => Promise<void>>();
  const offThread = <T>(task: StoreTask): Promise<T> => {
    const w = runStoreTask<T>(task);
    workers.add(w.stop);
    return w.result.finally(() => workers.delete(w.stop));
  };

  function build(gate: Gate): Store {
    const offLoop = gate === outside && !db.memory;
    const lift = <T extends object, K extends keyof T>(mod: T, keys: K[]): Lifted<T, K> =>
      Object.fromEntries(keys.map((k) => [k, gate((mod[k] as Fn).bind(mod))])) as Lifted<T, K>;
    // Housekeeping writes wait 50 ms for a foreign lock, not 5 s (db.ts `briefly`).
    const liftBrief = <T extends object, K extends keyof T>(mod: T, keys: K[]): Lifted<T, K> =>
      Object.fromEntries(keys.map((k) => [k, gate((...a: unknown[]) => briefly(db, () => (mod[k] as Fn).apply(mod, a as never[])))])) as Lifted<T, K>;
    const store: Store = {
      engine: 'sqlite',
      location: db.memory ? 'sqlite::memory:' : `sqlite:${db.name}`,
      people: {
        showNames: people.showNames,
        pseudonym: people.pseudonym,
        show: people.show,
        showEvidence: people.showEvidence,
        namesOf: gate(people.namesOf),
      },
      agents: { ...lift(m.agents, ['get', 'tokenHash', 'enrol', 'reconnect', 'saveStatus', 'revokeToken', 'forget', 'assign', 'enrolledBy', 'list']), ...liftBrief(m.agents, ['touch']) },
      violations: {
        ...lift(m.violations, ['ingestNudges', 'list', 'get', 'detail', 'acknowledge', 'agentsWithId', 'changedSince', 'trends', 'filterValues']),
        // A rule or token changed by another connection is in force for this very batch.
        ingest: gate((agent: Parameters<typeof m.violations.ingest>[0], events: Parameters<typeof m.violations.ingest>[1]) => {
          changes.check();
          return m.violations.ingest(agent, events);
        }),
        feed: gate((filter: ViolationFilter, limit: number, cursor?: FeedCursor) => {
          const page = m.violations.list(filter, limit, cursor);
          const found = m.exceptions.forViolations(page.items);
          return { ...page, items: page.items.map((v) => ({ ...v, exception: found.get(`${v.agentId}\u0000${v.id}`) ?? null })) };
        }),
        storedUser: gate((agentId: string, id: string) => storedUser.get(agentId, id)?.user ?? null),
        countByUser: gate((user: string, since: number, until: number, site: string | null) =>
          (site === null ? countByUser.get(user, since, until) : countByUserSite.get(user, since, until, site))?.n ?? 0),
      },
      reveals: lift(m.reveals, ['reveal']),
      subjects: {
        identify: gate(m.subjects.identify),
        // Its zod type says `v: 1`; the module builds exactly that.
        exportSubject: gate((name: string): SubjectExport | Promise<SubjectExport> => (offLoop
          ? offThread<SubjectExport>({ kind: 'subject-export', file: path, showNames: people.showNames, name })
          : m.subjects.exportSubject(name) as SubjectExport)),
        eraseSubject: gate((name: string, actor: string, auditDetail?: Record<string, unknown>) =>
          m.subjects.eraseSubject(name, actor, (who, action, detail) => m.audit.record(who, action, { ...detail, ...auditDetail }))),
      },
      apiTokens: lift(m.apiTokens, ['create', 'verify', 'revoke', 'list', 'live']),
      secrets: lift(m.secrets, ['create', 'find', 'revoke', 'list']),
      users: {
        kdfStats: m.users.hasher.stats,
        add: gate(m.users.addAsync),
        reset: gate(m.users.resetAsync),
        ...lift(m.users, ['disable', 'enable', 'exists', 'get', 'list', 'login', 'session', 'sessionLive', 'logout']),
      },
      oidc: lift(m.oidc, ['begin', 'take', 'login', 'refused']),
      audit: lift(m.audit, ['record', 'list']),
      exceptions: lift(m.exceptions, ['ingest', 'get', 'forViolations', 'decide', 'counts']),
      alerts: lift(m.alerts, ['addRule', 'rules', 'rule', 'removeRule', 'addTriggers', 'peekTriggers', 'settleTriggers', 'fire', 'claim', 'delivered', 'attemptFailed', 'counts', 'prune']),
      reports: lift(m.reports, ['add', 'list', 'get', 'remove', 'claim', 'sent', 'failed', 'lastRun', 'figures']),
      retention: {
        run: gate((opts: Parameters<typeof pruneAll>[1], t?: number, batch?: number) => (offLoop
          ? offThread<Pruned>({ kind: 'retention', file: path, opts, now: t, batch })
          : pruneAll(db, opts, t, batch))),
        pruneViolations: gate((days: number, t?: number, batch?: number) => pruneOnce(db, days, t, batch)),
      },
      instances: { ...lift(m.instances, ['live']), ...liftBrief(m.instances, ['record', 'remove']) },
      presence: { ...lift(m.presence, ['count', 'elsewhere']), ...liftBrief(m.presence, ['update', 'replace']) },
      changes: changes.feed,
      jobs: { runExclusive: async (_name, fn) => (await fn(), true) },
      probe: gate(() => {
        if (!db.open) throw coded('ENOTOPEN');
        // Prepared each time (microseconds): a cached statement would hide a dropped table.
        if (db.prepare('SELECT 1').pluck().get() !== 1) throw coded('ESCHEMA');
        if (db.prepare('SELECT max(version) FROM schema_migrations').pluck().get() !== LATEST) throw coded('ESCHEMA');
        db.prepare('SELECT 1 FROM agents LIMIT 1').get();
        db.prepare('SELECT 1 FROM violations LIMIT 1').get();
        db.prepare('SELECT 1 FROM events LIMIT 1').get();
        // A file deleted or replaced under a running server: writes go to the unlinked one.
        if (opened && fileId(db.name) !== opened) throw coded('EREPLACED');
      }),
      backup: async (target: string) => {
        while (txEnd) await txEnd;
        await db.backup(target);
        // A copy of the store holds what the store holds: readable by its owner only (see db.ts).
        if (process.platform !== 'win32') chmodSync(target, 0o600);
      },
      transaction: (fn) => fn(store),
      close: async () => {
        while (txEnd) await txEnd;
        // A task still running is stopped (its open batch rolls back) and rejects.
        await Promise.all([...workers].map((stop) => stop()));
        changes.stop();
        db.close();
      },
    };
    return store;
  }

  const tx = build(inside);
  const main = build(outside);
  main.transaction = async (fn) => {
    while (txEnd) await txEnd;
    let end!: () => void;
    txEnd = new Promise((r) => (end = r));
    try {
      db.exec('BEGIN IMMEDIATE');
      const result = await fn(tx);
      db.exec('COMMIT');
      return result;
    } catch (err) {
      if (db.inTransaction) db.exec('ROLLBACK');
      throw err;
    } finally {
      txEnd = null;
      end();
    }
  };
  return Object.assign(main, { db, rollups });
}
