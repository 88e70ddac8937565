/**
 * The agent's nudge loop with a fake helper: outcomes reach the outbox in order, monitor
 * mode suppresses, failures are reported and do not start a quiet period, enforce mode
 * closes the app after the grace period. Also the helper's presenter and the real closing
 * of processes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { closeProcesses } from '../../agent/nudge/enforce.js';
import { readProcessIdentities, type ProcessIdentity } from '../../agent/nudge/process-identity.js';

const readProcessIdentity = async (pid: number) => (await readProcessIdentities([pid], 'linux')).get(pid) ?? null;
import { nudgeError } from '../../agent/nudge/errors.js';
import type { HelperOutcome, NudgeRequest } from '../../shared/ipc.js';
import { createNudger, type Deliver } from '../../agent/nudge/nudger.js';
import { createPresenter } from '../../agent/nudge/present.js';
import type { Launch } from '../../agent/nudge/open.js';
import { silentLogger } from '../../shared/log.js';
import { loadPolicies } from '../../shared/policy-load.js';
import { packageRoot } from '../../shared/paths.js';
import type { EffectivePolicy } from '../../shared/policy.js';
import type { Event, NudgeOutcome } from '../../shared/protocol.js';

const demo = loadPolicies(join(packageRoot(), 'policies', 'demo')).policies[0]!.effective;
const policyWith = (mode: EffectivePolicy['mode'], nudge: Partial<EffectivePolicy['nudge']> = {}): EffectivePolicy => ({ ...demo, mode, nudge: { ...demo.nudge, ...nudge } });

function started(app = 'zoom', user: string | null = 'dr.lee'): Event {
  const e: Event = { id: randomUUID(), violationId: randomUUID(), kind: 'started', app, state: 'running', via: 'process', pids: [4120, 4121], evidence: [], at: new Date().toISOString() };
  if (user) e.user = user;
  return e;
}

/** Stands in for the OS in the nudger tests: every pid is a process that started at "t0" from /opt/zoom/zoom. */
const identify = async (pids: number[]) => new Map(pids.map((pid): [number, ProcessIdentity] => [pid, { pid, started: 't0', path: '/opt/zoom/zoom' }]));

function harness(policy: EffectivePolicy, deliver: Deliver, close = vi.fn(async (targets: ProcessIdentity[]) => ({ closed: targets.map((t) => t.pid), survivors: [] as number[], changed: [] as number[] }))) {
  const outcomes: NudgeOutcome[] = [];
  const flush = vi.fn();
  const nudger = createNudger({
    root: '/nonexistent/nudge', outbox: { appendNudges: (n) => void outcomes.push(...n) }, transport: { flush },
    policy: () => policy, log: silentLogger(), platform: 'linux', deliver, close, identify,
  });
  return { nudger, outcomes, flush, close };
}

/** A helper that shows the nudge and then answers `final`. */
const answering = (final: HelperOutcome['outcome'], seen: Array<{ user: string; request: NudgeRequest }> = []): Deliver => async (user, request, onOutcome) => {
  seen.push({ user, request });
  onOutcome({ type: 'outcome', id: request.id, outcome: 'shown' });
  onOutcome({ type: 'outcome', id: request.id, outcome: final, detail: `${final} by the test` });
};

describe('nudger', () => {
  it('sends the nudge to the process owner\'s helper and queues shown then clicked, flushing each', async () => {
    const seen: Array<{ user: string; request: NudgeRequest }> = [];
    const { nudger, outcomes, flush } = harness(policyWith('nudge'), answering('clicked', seen));
    const e = started();
    nudger.onEvents([e]);
    await vi.waitFor(() => expect(outcomes).toHaveLength(2));
    expect(seen).toEqual([{ user: 'dr.lee', request: expect.objectContaining({ title: 'Please use Healthdirect Video Call for patient consults', message: expect.stringMatching(/^Zoom is not approved/) }) }]);
    expect(outcomes).toEqual([
      expect.objectContaining({ violationId: e.violationId, app: 'zoom', user: 'dr.lee', outcome: 'shown' }),
      expect.objectContaining({ violationId: e.violationId, outcome: 'clicked', detail: 'clicked by the test' }),
    ]);
    expect(new Set(outcomes.map((o) => o.id)).size).toBe(2); // the server stores each outcome once by id
    expect(flush).toHaveBeenCalledTimes(2);
    nudger.stop();
  });

  it('in monitor mode reports suppressed and never contacts a helper', () => {
    const deliver = vi.fn<Deliver>();
    const { nudger, outcomes } = harness(policyWith('monitor'), deliver);
    nudger.onEvents([started()]);
    expect(outcomes).toEqual([expect.objectContaining({ outcome: 'suppressed', detail: expect.stringContaining('monitor mode') })]);
    expect(deliver).not.toHaveBeenCalled();
  });

  it('reports failed with the reason when no helper answers, and tries again on the next start', async () => {
    const deliver = vi.fn<Deliver>(async () => {
      throw nudgeError('no_helper', 'no nudge helper is listening for "dr.lee"');
    });
    const { nudger, outcomes } = harness(policyWith('nudge'), deliver);
    nudger.onEvents([started()]);
    await vi.waitFor(() => expect(outcomes).toEqual([expect.objectContaining({ outcome: 'failed', detail: 'no_helper: no nudge helper is listening for "dr.lee"' })]));
    nudger.onEvents([started()]);
    await vi.waitFor(() => expect(deliver).toHaveBeenCalledTimes(2));
  });

  it('reports failed when the process owner is unknown', () => {
    const deliver = vi.fn<Deliver>();
    const { nudger, outcomes } = harness(policyWith('nudge'), deliver);
    nudger.onEvents([started('zoom', null)]);
    expect(outcomes).toEqual([expect.objectContaining({ outcome: 'failed', detail: expect.stringMatching(/^unknown_user:/) })]);
    expect(deliver).not.toHaveBeenCalled();
  });

  describe('enforce mode', () => {
    beforeEach(() => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    });
    afterEach(() => {
      vi.useRealTimers();
    });

    it('closes the app\'s processes enforceGraceSeconds after the nudge was shown, and reports app-closed', async () => {
      const seen: Array<{ user: string; request: NudgeRequest }> = [];
      const { nudger, outcomes, close } = harness(policyWith('enforce', { enforceGraceSeconds: 60 }), answering('dismissed', seen));
      const e = started();
      nudger.onEvents([e]);
      await vi.advanceTimersByTimeAsync(0);
      expect(seen[0]!.request.message).toMatch(/Zoom will be closed in 60 seconds\.$/);
      await vi.advanceTimersByTimeAsync(59_000);
      expect(close).not.toHaveBeenCalled();
      await vi.advanceTimersByTimeAsync(1000);
      expect(close).toHaveBeenCalledWith([{ pid: 4120, started: 't0', path: '/opt/zoom/zoom' }, { pid: 4121, started: 't0', path: '/opt/zoom/zoom' }]);
      expect(outcomes.map((o) => o.outcome)).toEqual(['shown', 'dismissed', 'app-closed']);
      expect(outcomes[2]).toMatchObject({ violationId: e.violationId, detail: 'closed pid(s) 4120, 4121' });
      nudger.stop();
    });

    it('checks the pids against what was recorded at detection, and reports pids that are no longer the app', async () => {
      const close = vi.fn(async (targets: ProcessIdentity[]) => ({ closed: [] as number[], survivors: [] as number[], changed: targets.map((t) => t.pid) }));
      const { nudger, outcomes } = harness(policyWith('enforce', { enforceGraceSeconds: 60 }), answering('dismissed'), close);
      const e = started();
      nudger.onEvents([e]);
      await vi.advanceTimersByTimeAsync(60_000);
      expect(close).toHaveBeenCalledTimes(1);
      expect(outcomes.map((o) => o.outcome)).toEqual(['shown', 'dismissed', 'failed']);
      expect(outcomes[2]!.detail).toBe('enforce: pid(s) 4120, 4121 no longer the app the detector saw (reused or replaced); left alone');
      nudger.stop();
    });

    it('leaves the app alone when the clinician closed it within the grace period', async () => {
      const { nudger, close } = harness(policyWith('enforce', { enforceGraceSeconds: 60 }), answering('clicked'));
      const e = started();
      nudger.onEvents([e]);
      await vi.advanceTimersByTimeAsync(30_000);
      nudger.onEvents([{ ...e, id: randomUUID(), kind: 'ended' }]);
      await vi.advanceTimersByTimeAsync(60_000);
      expect(close).not.toHaveBeenCalled();
      nudger.stop();
    });
  });
});

describe('helper presenter', () => {
  const request: NudgeRequest = {
    type: 'nudge', id: randomUUID(), title: 'T', message: 'M', approved: { name: 'Healthdirect Video Call', url: 'https://vcc.healthdirect.org.au/' },
    aboutUrl: 'https://clinic.example/why', timeoutSec: 30,
  };
  /** A notifier stand-in: a shell printing what notify-send would. */
  const fakeNotifier = (script: string) => () => ({
    cmd: 'sh', args: ['-c', script], shownOnSpawn: false,
    parse: (line: string) => (line === 'ID' ? { kind: 'shown' as const } : line === 'about' ? { kind: 'action' as const, action: 'about' as const } : line === 'open' ? { kind: 'action' as const, action: 'open' as const } : null),
  });

  async function present(script: string) {
    const launched: Launch[] = [];
    const reports: Array<[string, string | undefined]> = [];
    await createPresenter({ platform: 'linux', notifier: fakeNotifier(script), log: silentLogger(), launch: async (l) => (launched.push(l), null) })(request, (o, d) => reports.push([o, d]));
    return { launched, reports };
  }

  it('opens the approved app on the open action and reports clicked', async () => {
    const { launched, reports } = await present('echo ID; echo open');
    expect(launched).toEqual([{ cmd: 'xdg-open', args: ['https://vcc.healthdirect.org.au/'] }]);
    expect(reports).toEqual([['shown', undefined], ['clicked', 'opened Healthdirect Video Call']]);
  });

  it('opens the "why" page on that action and reports dismissed', async () => {
    const { launched, reports } = await present('echo ID; echo about');
    expect(launched).toEqual([{ cmd: 'xdg-open', args: ['https://clinic.example/why'] }]);
    expect(reports).toEqual([['shown', undefined], ['dismissed', 'opened "Why am I seeing this?"']]);
  });

  it('reports dismissed when closed without a choice, and failed with the notifier\'s error', async () => {
    expect((await present('echo ID')).reports).toEqual([['shown', undefined], ['dismissed', 'closed without choosing']]);
    expect((await present('echo "Could not connect: No such file or directory" >&2; exit 1')).reports).toEqual([
      ['failed', 'sh exited with status 1: Could not connect: No such file or directory'],
    ]);
  });
});

describe.skipIf(process.platform !== 'linux')('closing processes (enforce)', () => {
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });
  /** A real child process, once it runs (its identity readable) and, with `ready`, once it printed that word. */
  async function child(cmd: string, args: string[], ready?: string): Promise<{ proc: ChildProcess; seen: ProcessIdentity }> {
    const proc = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'ignore'] });
    children.push(proc);
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const seen = await vi.waitFor(async () => {
      if (ready) expect(out).toContain(ready);
      const id = await readProcessIdentity(proc.pid!);
      expect(id).not.toBeNull();
      return id!;
    });
    return { proc, seen };
  }
  const gone = (p: ChildProcess) => vi.waitFor(() => expect(p.exitCode !== null || p.signalCode !== null).toBe(true));

  it('ends a process politely, and by force one that ignores SIGTERM', async () => {
    const polite = await child('sleep', ['60']);
    const stubborn = await child('sh', ['-c', 'trap "" TERM; echo ready; while :; do sleep 1; done'], 'ready');
    const self = await readProcessIdentity(process.pid);
    const result = await closeProcesses([polite.seen, stubborn.seen, self!, { pid: 1, started: '1', path: null }], { graceMs: 500 });
    expect(result).toEqual({ closed: [polite.proc.pid, stubborn.proc.pid], survivors: [], changed: [] });
    await gone(polite.proc);
    await gone(stubborn.proc);
    expect(polite.proc.signalCode).toBe('SIGTERM');
    expect(stubborn.proc.signalCode).toBe('SIGKILL');
  });

  it('refuses to signal a pid that now belongs to another process (start time differs)', async () => {
    // What the detector saw: process A. Its pid is then "reused" by process B: the check
    // is made with B's real pid and A's recorded start time and path.
    const a = await child('sleep', ['60']);
    const b = await child('sleep', ['60']);
    expect(b.seen.started).not.toBe('');
    const reused: ProcessIdentity = { pid: b.proc.pid!, started: String(Number(b.seen.started) - 1), path: a.seen.path };
    const result = await closeProcesses([reused], { graceMs: 200 });
    expect(result).toEqual({ closed: [], survivors: [], changed: [b.proc.pid] });
    expect(b.proc.exitCode).toBeNull();
    expect(b.proc.signalCode).toBeNull();
  });

  it('refuses to signal a process whose executable changed since detection (it exec\'d another program)', async () => {
    const shell = await child('sh', ['-c', 'echo ready; read _ ; exec sleep 60'], 'ready');
    const proc = shell.proc;
    expect(shell.seen.path).toMatch(/sh$|dash$|bash$/);
    // The same pid, the same start time, another program.
    proc.stdin!.write('\n');
    await vi.waitFor(async () => expect((await readProcessIdentity(proc.pid!))?.path).toMatch(/sleep$/));
    const result = await closeProcesses([shell.seen], { graceMs: 200 });
    expect(result).toEqual({ closed: [], survivors: [], changed: [proc.pid] });
    expect(proc.signalCode).toBeNull();
  });
});
