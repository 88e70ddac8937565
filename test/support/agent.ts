/** Helpers for tests that run the agent: state folders, fake apps, reading the server's store. */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';

/** A config file for `consultguard-agent run --config FILE`. */
export function agentConfigFile(dir: string, config: Record<string, unknown>): string {
  const file = join(dir, 'agent.json');
  writeFileSync(file, JSON.stringify(config));
  return file;
}

/** The outbox records on disk (all segments), as text, to see what the agent queued. */
export function outboxText(stateDir: string): string {
  const dir = join(stateDir, 'outbox');
  try {
    return readdirSync(dir).filter((f) => f.startsWith('seg-')).map((f) => readFileSync(join(dir, f), 'utf8')).join('');
  } catch {
    return '';
  }
}

/** Events stored by the server, read from its SQLite file (a second reader; WAL allows it). */
export function storedEvents(dataDir: string, agentId?: string): Array<{ agent_id: string; id: string; violation_id: string; kind: string; at: number }> {
  const db = new Database(join(dataDir, 'consultguard.db'), { readonly: true, fileMustExist: true });
  try {
    const sql = `SELECT agent_id, id, violation_id, kind, at FROM events ${agentId ? 'WHERE agent_id = ?' : ''} ORDER BY at`;
    return db.prepare(sql).all(...(agentId ? [agentId] : [])) as never;
  } finally {
    db.close();
  }
}
