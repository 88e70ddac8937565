/**
 * The live feed across instances on one store: a dashboard on one instance receives the
 * violations that agents connected to another instance sent, once each per change, and
 * its own agents' violations once (not again through the relay).
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startTestServer, tempDir } from '../support/server.js';
import { openLiveStream } from '../support/live-stream.js';
import { agent, makeEvent } from './alerts-receivers.js';

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
});
