/**
 * The presence upkeep of one instance (server/gateway/presence.ts) on each real engine:
 * connects and disconnects reach the store in batches, another instance reads them, rows
 * the store lost are rewritten at the next heartbeat, and a stopping instance removes its own.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createPresence } from '../../server/gateway/presence.js';
import type { Store } from '../../server/store/types.js';
import { silentLogger } from '../../shared/log.js';
import { engines, type EngineUnderTest } from './engines.js';

describe.each(engines)('presence upkeep: $name', (engine: EngineUnderTest) => {
  let store: Store | undefined;
  afterEach(async () => {
    if (!store) return;
    await store.close();
    await engine.dispose(store);
    store = undefined;
  });

  it('writes connects and disconnects in batches, heals rows the store lost, and removes its rows on stop', async () => {
    const s = (store = await engine.open());
    for (const instanceId of ['mine', 'other']) await s.instances.record({ instanceId, host: 'h', policyVersions: [], startedAt: Date.now() });
    const local = new Set<string>();
    const mine = createPresence({ store: s.presence, instanceId: 'mine', local: () => local, log: silentLogger(), intervalMs: 60_000, flushMs: 20 });
    const other = createPresence({ store: s.presence, instanceId: 'other', local: () => [], log: silentLogger(), intervalMs: 60_000 });

    for (const id of ['x', 'y', 'z']) {
      local.add(id);
      mine.held(id);
    }
    local.delete('z');
    mine.released('z'); // connected and gone within one batch: never counted
    await vi.waitFor(async () => expect(await s.presence.count('mine')).toBe(2), { timeout: 5000, interval: 20 });
    await other.refresh();
    expect(['x', 'y', 'z'].map((id) => other.elsewhere(id))).toEqual([true, true, false]);
    expect(mine.elsewhere('x')).toBe(false); // its own agents are the gateway's to answer for

    local.delete('y');
    mine.released('y');
    await vi.waitFor(async () => expect(await s.presence.count('mine')).toBe(1), { timeout: 5000, interval: 20 });

    // Its rows gone behind its back (pruned while it was cut off from the store): the next beat rewrites them.
    await s.presence.replace('mine', []);
    await other.refresh();
    expect(other.elsewhere('x')).toBe(false);
    await mine.refresh();
    expect(await s.presence.count('mine')).toBe(1);
    await other.refresh();
    expect(other.elsewhere('x')).toBe(true);

    await mine.stop();
    expect(await s.presence.count('mine')).toBe(0);
    await other.refresh();
    expect(other.elsewhere('x')).toBe(false);
    await other.stop();
  });
});
