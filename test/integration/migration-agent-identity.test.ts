/**
 * Schema migration 7 on a store written by the previous schema: agents revoked before it
 * (token cleared) get the revoked marker, so upgrading the server does not let them re-enrol
 * with the secret; agents holding a token keep it.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { migrations } from '../../server/store/migrations/index.js';
import { hashToken } from '../../server/store/tokens.js';
import { startTestServer, tempDir, TEST_SECRET, type TestServer } from '../support/server.js';
import { connectRaw, helloFrame } from '../support/ws-client.js';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('migration 7 (agent identity)', () => {
  it('marks agents revoked under the old schema as revoked, and keeps live tokens working', async () => {
    const dataDir = tempDir();
    const db = new Database(join(dataDir, 'consultguard.db'));
    db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT');
    for (const m of migrations.filter((x) => x.version <= 6)) {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations VALUES (?, ?, ?)').run(m.version, m.name, Date.now());
    }
    const revoked = randomUUID();
    const live = randomUUID();
    const token = 'cga_live-token-from-before';
    const ins = db.prepare("INSERT INTO agents (agent_id, hostname, platform, token_hash, enrolled_at, last_seen) VALUES (?, 'PC', 'win32', ?, 1, 2)");
    ins.run(revoked, null);
    ins.run(live, hashToken(token));
    db.close();

    server = await startTestServer({ dataDir });
    const check = new Database(join(dataDir, 'consultguard.db'), { readonly: true });
    const rows = check.prepare('SELECT agent_id, revoked_at, site_pinned FROM agents').all() as Array<{ agent_id: string; revoked_at: number | null; site_pinned: number }>;
    check.close();
    expect(rows.find((r) => r.agent_id === revoked)).toEqual({ agent_id: revoked, revoked_at: 2, site_pinned: 0 });
    expect(rows.find((r) => r.agent_id === live)?.revoked_at).toBeNull();

    const c = await connectRaw(server.wsUrl);
    c.send(helloFrame({ agentId: revoked, enrollSecret: TEST_SECRET }));
    expect(await c.next()).toMatchObject({ type: 'error', code: 'unauthorized', message: expect.stringMatching(/revoked/) });
    expect((await c.closed).code).toBe(4401);
    const ok = await connectRaw(server.wsUrl);
    ok.send(helloFrame({ agentId: live, token }));
    expect((await ok.next()).type).toBe('welcome');
    ok.close();
  });
});
