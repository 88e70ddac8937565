/**
 * The audit log: who logged in, viewed, exported or acknowledged what, and every admin
 * action (tokens, users, secrets, agents), from the API or the CLI, and when.
 *
 * Actors are written one way everywhere: a dashboard user by name, an API token as
 * `token:<name or id>`, an admin command as `cli:<OS user>`, and `anonymous` for a request
 * with no credentials. `record` is the one entry point; it never throws into the caller's
 * work on a detail that will not serialise.
 */
import { userInfo } from 'node:os';
import type { Db } from './db.js';

/** The actor for an admin command run from a shell: the OS account that ran it. */
export function cliActor(): string {
  let name: string | undefined;
  try {
    name = userInfo().username;
  } catch {
    // No passwd entry (a container's arbitrary uid): fall back to the environment.
    name = process.env.USER ?? process.env.USERNAME ?? process.env.LOGNAME;
  }
  return `cli:${name || `uid-${process.getuid?.() ?? '?'}`}`;
}

export function createAuditStore(db: Db, now: () => number = Date.now) {
  const insert = db.prepare('INSERT INTO audit (at, actor, action, detail) VALUES (?, ?, ?, ?)');
  return {
    record(actor: string, action: string, detail: Record<string, unknown> = {}): void {
      insert.run(now(), actor, action, JSON.stringify(detail));
    },
    list(limit: number, before?: number) {
      const rows = db.prepare<[number, number], { seq: number; at: number; actor: string; action: string; detail: string }>(
        'SELECT * FROM audit WHERE seq < ? ORDER BY seq DESC LIMIT ?',
      ).all(before ?? Number.MAX_SAFE_INTEGER, limit);
      return rows.map((r) => ({ seq: r.seq, at: new Date(r.at).toISOString(), actor: r.actor, action: r.action, detail: JSON.parse(r.detail) as Record<string, unknown> }));
    },
  };
}

export type AuditStore = ReturnType<typeof createAuditStore>;
