import { describe, expect, it } from 'vitest';
import { createLifecycle } from '../../agent/lifecycle.js';
import type { Detection } from '../../shared/snapshot.js';

const zoom = (state: Detection['state'] = 'running'): Detection => ({
  app: 'zoom', state, via: 'process', confidence: 0.9, pids: [1], user: 'dr.lee', candidates: ['zoom'], evidence: ['process zoom'],
});
const t = (s: number) => new Date(Date.UTC(2026, 10, 23, 9, 0, s));

describe('violation lifecycle', () => {
  it('starts, updates on a state change, and ends after the configured missed polls', () => {
    const lc = createLifecycle({ endAfterMissedPolls: 2 });
    const [started] = lc.observe([zoom()], t(0));
    expect(started).toMatchObject({ kind: 'started', app: 'zoom', state: 'running', user: 'dr.lee' });
    expect(lc.observe([zoom()], t(5))).toEqual([]);
    const [updated] = lc.observe([zoom('in-call')], t(10));
    expect(updated).toMatchObject({ kind: 'updated', state: 'in-call', violationId: started!.violationId });
    expect(lc.observe([], t(15))).toEqual([]); // one missed poll: no flapping
    expect(lc.observe([zoom('in-call')], t(20))).toEqual([]);
    expect(lc.observe([], t(25))).toEqual([]);
    const [ended] = lc.observe([], t(30));
    expect(ended).toMatchObject({ kind: 'ended', violationId: started!.violationId, at: t(30).toISOString() });
  });

  it('resumes open violations after a restart instead of opening duplicates', () => {
    const first = createLifecycle({ endAfterMissedPolls: 2 });
    const [started] = first.observe([zoom()], t(0));
    const second = createLifecycle({ endAfterMissedPolls: 2, open: first.open() });
    expect(second.observe([zoom()], t(5))).toEqual([]);
    const ended = second.endAll(t(9), 'consult hours ended');
    expect(ended).toEqual([expect.objectContaining({ kind: 'ended', violationId: started!.violationId, evidence: ['consult hours ended'] })]);
    expect(second.open()).toEqual([]);
  });
});

describe('crash recovery', () => {
  it('replays events written after the last save, so a restart opens no duplicate and loses no end', () => {
    const before = createLifecycle({ endAfterMissedPolls: 2 });
    const [started] = before.observe([zoom()], t(0));
    // Crash: the started event reached the outbox but the open list was never saved.
    const after = createLifecycle({ endAfterMissedPolls: 2, open: [] });
    after.replay([started!]);
    expect(after.observe([zoom()], t(5))).toEqual([]);
    expect(after.open()).toEqual([expect.objectContaining({ violationId: started!.violationId })]);
    const [ended] = after.endAll(t(6), 'stop');
    after.replay([ended!]);
    expect(after.open()).toEqual([]);
  });
});
