/** server/store/exceptions.ts on a real SQLite file: ingest (idempotent), decide, counts, and it follows its violation's deletion. */
import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { createStore, type SqliteStore } from '../../server/store/index.js';
import { tempDir } from '../support/server.js';
import type { NudgeOutcome } from '../../shared/protocol.js';

const AGENT = { agentId: '00000000-0000-4000-8000-000000000001', hostname: 'rm4', site: null };
const V1 = '00000000-0000-4000-8000-0000000000a1';
const V2 = '00000000-0000-4000-8000-0000000000a2';
const at = '2026-11-23T09:00:00.000Z';
const started = (violationId: string, id: string) => ({ id, violationId, kind: 'started' as const, app: 'zoom', state: 'running' as const, via: 'process' as const, pids: [1], evidence: [], at, user: 'h:ab' });
const claim = (violationId: string, id: string): NudgeOutcome => ({ id, violationId, app: 'zoom', user: 'h:ab', outcome: 'exception', at, reason: 'emergency', until: '2026-11-23T09:30:00.000Z', detail: 'exception claimed: Emergency' });

describe('exception store', () => {
  let store: SqliteStore;
  let dir: string;
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores a claim once, records the decision, counts apart, and is deleted with its violation', async () => {
    dir = tempDir();
    store = createStore(dir, () => Date.parse('2026-11-23T10:00:00Z'));
    await store.violations.ingest(AGENT, [started(V1, '00000000-0000-4000-8000-0000000000e1'), started(V2, '00000000-0000-4000-8000-0000000000e2')]);
    expect(await store.exceptions.ingest(AGENT.agentId, [claim(V1, '00000000-0000-4000-8000-0000000000c1')])).toBe(1);
    expect(await store.exceptions.ingest(AGENT.agentId, [claim(V1, '00000000-0000-4000-8000-0000000000c1')])).toBe(0); // resent batch
    expect(await store.exceptions.get(AGENT.agentId, V1)).toMatchObject({ reason: 'emergency', label: 'Emergency', decision: null });
    const since = Date.parse('2026-11-23T00:00:00Z');
    const until = Date.parse('2026-11-24T00:00:00Z');
    expect(await store.exceptions.counts(since, until)).toEqual({ claimed: 1, accepted: 0, rejected: 0, pending: 1, unexplained: 1 });
    expect(await store.exceptions.decide(AGENT.agentId, V1, 'rejected', 'lead.a', 'the approved app was working')).toMatchObject({ decision: 'rejected', decidedBy: 'lead.a', decidedAt: '2026-11-23T10:00:00.000Z' });
    expect(await store.exceptions.decide(AGENT.agentId, V2, 'accepted', 'lead.a', '')).toBeNull();
    expect(await store.exceptions.counts(since, until)).toMatchObject({ claimed: 1, rejected: 1, pending: 0, unexplained: 1 });
    expect((await store.exceptions.forViolations([{ agentId: AGENT.agentId, id: V1 }, { agentId: AGENT.agentId, id: V2 }])).size).toBe(1);
    store.db.prepare('DELETE FROM violations WHERE id = ?').run(V1);
    expect(await store.exceptions.get(AGENT.agentId, V1)).toBeNull();
    expect(store.db.prepare('SELECT count(*) AS n FROM exceptions').get()).toEqual({ n: 0 });
  });
});
