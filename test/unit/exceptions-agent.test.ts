/** Agent-side exceptions (agent/nudge/exceptions.ts) and how each OS notifier offers them. */
import { describe, expect, it } from 'vitest';
import { createExceptions } from '../../agent/nudge/exceptions.js';
import { alerterCommand } from '../../agent/nudge/notify/darwin.js';
import { linuxNotifyCommand } from '../../agent/nudge/notify/linux.js';
import type { NudgeRequest } from '../../shared/ipc.js';
import type { NudgeOutcome } from '../../shared/protocol.js';

const policy = {
  exceptions: { maxMinutes: 30, reasons: [{ id: 'patient-cannot-use', label: 'The patient cannot use the approved app' }, { id: 'emergency', label: 'Emergency' }] },
  monitor: ['zoom', 'whatsapp'],
  catalog: { apps: [], browsers: [] },
};
const VID = '00000000-0000-4000-8000-0000000000aa';

function setup(open: Array<{ violationId: string; app: string; user?: string }> = []) {
  let t = Date.parse('2026-11-23T09:00:00Z');
  const sent: NudgeOutcome[] = [];
  const x = createExceptions({ now: () => new Date(t), policy: () => policy, report: (o) => sent.push(o), open: () => open });
  return { x, sent, advance: (ms: number) => (t += ms) };
}

describe('clinician exceptions on the agent', () => {
  it('opens a window of at most maxMinutes, reports it for the open violation once, and ends it on time', () => {
    const { x, sent, advance } = setup([{ violationId: VID, app: 'zoom', user: 'dr.lee' }]);
    const w = x.claim({ user: 'dr.lee', app: 'zoom', reason: 'emergency', minutes: 500 });
    expect(w.until - Date.parse('2026-11-23T09:00:00Z')).toBe(30 * 60_000);
    expect(sent).toEqual([expect.objectContaining({ violationId: VID, outcome: 'exception', reason: 'emergency', until: '2026-11-23T09:30:00.000Z', detail: 'exception claimed: Emergency', user: 'dr.lee' })]);
    x.claim({ user: 'dr.lee', app: 'zoom', reason: 'emergency' });
    expect(sent).toHaveLength(1); // the same violation is not reported twice
    expect(x.active('dr.lee', 'zoom')).not.toBeNull();
    expect(x.active('dr.kim', 'zoom')).toBeNull();
    expect(x.active('dr.lee', 'whatsapp')).toBeNull();
    advance(30 * 60_000);
    expect(x.active('dr.lee', 'zoom')).toBeNull();
  });

  it('a violation that starts inside the window is reported under it', () => {
    const { x, sent } = setup();
    x.claim({ user: 'dr.lee', app: 'whatsapp', reason: 'patient-cannot-use' });
    expect(sent).toHaveLength(0);
    x.onEvents([{ id: '00000000-0000-4000-8000-0000000000bb', violationId: VID, kind: 'started', app: 'whatsapp', state: 'running', via: 'process', pids: [1], evidence: [], at: '2026-11-23T09:01:00Z', user: 'dr.lee' }]);
    expect(sent).toEqual([expect.objectContaining({ violationId: VID, reason: 'patient-cannot-use' })]);
  });

  it('refuses an unknown reason or app, naming what is allowed', () => {
    const { x } = setup();
    expect(() => x.claim({ user: 'u', app: 'zoom', reason: 'bored' })).toThrow(/unknown reason "bored"; the policy's reasons: patient-cannot-use, emergency/);
    expect(() => x.claim({ user: 'u', app: 'notepad', reason: 'emergency' })).toThrow(/"notepad" is not an app this policy watches; watched: zoom, whatsapp/);
  });

  const request: NudgeRequest = {
    type: 'nudge', id: '00000000-0000-4000-8000-0000000000cc', title: 'T', message: 'M', approved: { name: 'Healthdirect', url: 'https://vcc.healthdirect.org.au/' },
    timeoutSec: 300, app: 'zoom', exceptions: policy.exceptions, sees: [{ heading: 'When', lines: ['always'] }],
  };

  it('Linux: one notify-send action per reason, and "What ConsultGuard sees"; the printed key picks the reason', () => {
    const cmd = linuxNotifyCommand(request, { stdbuf: false });
    expect(cmd.args).toContain('--action=exc:emergency=I need this app: Emergency');
    expect(cmd.args).toContain('--action=sees=What ConsultGuard sees');
    expect(cmd.parse('17')).toEqual({ kind: 'shown' });
    expect(cmd.parse('exc:emergency')).toEqual({ kind: 'action', action: 'exception', reason: 'emergency' });
    expect(cmd.parse('exc:not-in-policy')).toBeNull();
    expect(cmd.parse('sees')).toEqual({ kind: 'action', action: 'sees' });
  });

  it('macOS alerter: the reasons are actions, answered by their label', () => {
    const cmd = alerterCommand(request, '/usr/local/bin/alerter');
    const actions = cmd.args[cmd.args.indexOf('-actions') + 1]!;
    expect(actions.split(',')).toEqual(['Open Healthdirect', 'I need this app: The patient cannot use the approved app', 'I need this app: Emergency', 'What ConsultGuard sees']);
    expect(cmd.parse(JSON.stringify({ activationType: 'actionClicked', activationValue: 'I need this app: Emergency' }))).toEqual({ kind: 'action', action: 'exception', reason: 'emergency' });
  });
});
