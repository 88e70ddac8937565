/**
 * Exception windows survive an agent restart (agent/nudge/exceptions.ts + agent/state.ts):
 * a real state folder on disk, two "runs" (two createExceptions over the same files), a
 * corrupt file refused and moved aside. The real-process restart (SIGKILL) is in
 * test/integration/exceptions-restart.test.ts.
 */
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createExceptions } from '../../agent/nudge/exceptions.js';
import { createAgentState } from '../../agent/state.js';
import type { NudgeOutcome } from '../../shared/protocol.js';
import { tempDir } from '../support/server.js';

const policy = {
  exceptions: { maxMinutes: 30, reasons: [{ id: 'emergency', label: 'Emergency' }] },
  monitor: ['zoom', 'whatsapp'],
  catalog: { apps: [], browsers: [] },
};
const VID = '00000000-0000-4000-8000-0000000000aa';
const START = Date.parse('2026-11-23T09:00:00Z');

describe('exception windows across restarts', () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function run(t: { now: number }, sent: NudgeOutcome[]) {
    const state = createAgentState(dir);
    const saved = state.loadExceptions(t.now);
    const x = createExceptions({
      now: () => new Date(t.now), policy: () => policy, report: (o) => sent.push(o), open: () => [{ violationId: VID, app: 'zoom', user: 'dr.lee' }],
      saved: saved.state === 'ok' ? saved.value : [], save: state.saveExceptions,
    });
    return { x, saved };
  }

  it('a window claimed in one run holds in the next, is not reported twice, and is dropped once it ended', () => {
    dir = tempDir('cg-excp-');
    const t = { now: START };
    const sent: NudgeOutcome[] = [];
    run(t, sent).x.claim({ user: 'dr.lee', app: 'zoom', reason: 'emergency', minutes: 10 });
    expect(sent).toHaveLength(1);
    const file = join(dir, 'exceptions.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ v: 1, windows: [{ user: 'dr.lee', app: 'zoom', reason: 'emergency', label: 'Emergency', until: '2026-11-23T09:10:00.000Z', reported: [VID] }] });

    t.now += 5 * 60_000; // restart inside the window
    const second = run(t, sent).x;
    expect(second.active('dr.lee', 'zoom')).toMatchObject({ reason: 'emergency', until: START + 10 * 60_000 });
    second.onEvents([{ id: '00000000-0000-4000-8000-0000000000bb', violationId: VID, kind: 'updated', app: 'zoom', state: 'running', via: 'process', pids: [1], evidence: [], at: '2026-11-23T09:05:00Z', user: 'dr.lee' }]);
    expect(sent).toHaveLength(1); // already reported before the restart
    expect(second.active('dr.kim', 'zoom')).toBeNull();

    t.now += 6 * 60_000; // restart after the window ended: nothing is reloaded
    const third = run(t, sent);
    expect(third.x.active('dr.lee', 'zoom')).toBeNull();
    third.x.claim({ user: 'dr.lee', app: 'whatsapp', reason: 'emergency' });
    expect((JSON.parse(readFileSync(file, 'utf8')) as { windows: Array<{ app: string }> }).windows.map((w) => w.app)).toEqual(['whatsapp']);
  });

  it.each([
    ['not JSON', '{"v":1,"windows":['],
    ['a wrong schema', JSON.stringify({ v: 1, windows: [{ user: 'dr.lee', app: 'zoom', reason: 'emergency', label: 'E', until: 'tomorrow', reported: [] }] })],
    ['an unknown version', JSON.stringify({ v: 2, windows: [] })],
  ])('refuses a file with %s, moves it aside for a look, and starts with no windows', (_what, text) => {
    dir = tempDir('cg-excp-');
    createAgentState(dir);
    writeFileSync(join(dir, 'exceptions.json'), text);
    const { x, saved } = run({ now: START }, []);
    expect(saved.state).toBe('bad');
    if (saved.state !== 'bad') return;
    expect(saved.movedTo).toBe(join(dir, `exceptions.json.bad-${START}`));
    expect(readFileSync(saved.movedTo!, 'utf8')).toBe(text);
    expect(existsSync(join(dir, 'exceptions.json'))).toBe(false);
    expect(x.active('dr.lee', 'zoom')).toBeNull();
    expect(readdirSync(dir).filter((f) => f.startsWith('exceptions.json'))).toEqual([`exceptions.json.bad-${START}`]);
  });
});
