/**
 * The live feed across instances on one store: a dashboard on one instance receives the
 * violations that agents connected to another instance sent, once each per change, and
 * its own agents' violations once (not again through the relay).
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createStore } from '../../server/store/index.js';
import type { Event } from '../../shared/protocol.js';
import { startTestServer, tempDir } from '../support/server.js';
import { openLiveStream } from '../support/live-stream.js';
import { agent, api, makeEvent } from './alerts-receivers.js';

const open: Array<{ close(): Promise<void> | void }> = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

describe('live feed across instances', () => {
  it('shows on instance A what agents sent through instance B, and each change once', async () => {
    const dataDir = tempDir('cg-relay-');
    const a = await startTestServer({ dataDir, keepData: true });
    const b = await startTestServer({ dataDir });
    open.push(b, a);
    const feedA = await openLiveStream(a.url, a.apiToken);
    open.push(feedA);

    const viaB = await agent(b.wsUrl);
    const viaA = await agent(a.wsUrl);
    open.push(viaB, viaA);
    const remote = randomUUID();
    const local = randomUUID();
    await viaB.send([makeEvent({ violationId: remote })]);
    await viaA.send([makeEvent({ violationId: local })]);
    await vi.waitFor(() => expect(feedA.keys()).toEqual(new Set([`${viaB.agentId}/${remote}`, `${viaA.agentId}/${local}`])), { timeout: 5000 });

    // A change (running -> in-call, then ended) made through B comes through as a change.
    await viaB.send([makeEvent({ violationId: remote, kind: 'updated', state: 'in-call' })]);
    await vi.waitFor(() => expect(feedA.violations.filter((v) => v.id === remote).map((v) => v.state)).toEqual(['running', 'in-call']), { timeout: 5000 });
    await viaB.send([makeEvent({ violationId: remote, kind: 'ended', state: 'in-call' })]);
    await vi.waitFor(() => expect(feedA.violations.filter((v) => v.id === remote).at(-1)?.endedAt).not.toBeNull(), { timeout: 5000 });

    // Several relay polls later, nothing was sent twice.
    await new Promise((r) => setTimeout(r, 1500));
    expect(feedA.violations.filter((v) => v.id === local)).toHaveLength(1);
    expect(feedA.violations.filter((v) => v.id === remote)).toHaveLength(3);
  });

  it('does not send again what was there before the start or what this instance published itself, when another connection commits', async () => {
    // Rows written just before the server starts, and a review made on it: another
    // connection's commit (here a second store; in the server, e.g. the roll-up rebuild
    // worker) wakes the relay, which must not re-send either (issue 18's backpressure failure).
    const dataDir = tempDir('cg-relay-');
    const before = { agentId: randomUUID(), hostname: 'PC-BEFORE', site: null };
    const seeded = randomUUID();
    const other = createStore(dataDir);
    open.push(other);
    await other.violations.ingest(before, [makeEvent({ violationId: seeded }) as Event]);
    const a = await startTestServer({ dataDir, keepData: true });
    open.push(a);
    const feed = await openLiveStream(a.url, a.apiToken);
    open.push(feed);
    expect((await api(a.url, a.apiToken, 'POST', `/api/violations/${before.agentId}/${seeded}/ack`, { status: 'acknowledged', note: 'seen' })).status).toBe(200);
    await vi.waitFor(() => expect(feed.keys()).toEqual(new Set([`${before.agentId}/${seeded}`])), { timeout: 5000 });

    const later = { agentId: randomUUID(), hostname: 'PC-LATER', site: null };
    const fresh = randomUUID();
    await other.violations.ingest(later, [makeEvent({ violationId: fresh }) as Event]);
    await vi.waitFor(() => expect(feed.keys()).toContain(`${later.agentId}/${fresh}`), { timeout: 5000 });
    await new Promise((r) => setTimeout(r, 1500));
    expect(feed.violations.filter((v) => v.id === seeded)).toHaveLength(1);
    expect(feed.violations.filter((v) => v.id === fresh)).toHaveLength(1);
  });
});
