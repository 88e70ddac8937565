/**
 * The native notification commands each OS runs, and the launch/close/ACL command lines.
 * macOS and Windows cannot run here: these tests pin what would be executed there, and
 * that the notifier's answers map to the right outcomes.
 */
import { describe, expect, it } from 'vitest';
import { alerterCommand, appleString, osascriptDialogCommand } from '../../agent/nudge/notify/darwin.js';
import { linuxNotifyCommand } from '../../agent/nudge/notify/linux.js';
import { renderNudge } from '../../agent/nudge/message.js';
import { openCommand } from '../../agent/nudge/open.js';
import { taskkillArgs } from '../../agent/nudge/enforce.js';
import { icaclsArgs, pipePath, userSlug, windowsUserPaths } from '../../agent/nudge/windows.js';
import { serviceNudgeRoot, agentNudgeRoot } from '../../agent/nudge/rendezvous.js';
import { NudgeRequest } from '../../agent/nudge/ipc-protocol.js';
import { NudgeSettings } from '../../shared/policy.js';

const request = NudgeRequest.parse({
  type: 'nudge',
  id: '5f0e8c1e-8a54-4a59-9e43-2a7f7a0d6f10',
  title: 'Please use Healthdirect Video Call for patient consults',
  message: 'Zoom is not approved here. Use "Healthdirect" & keep <data> safe; it\'s quick.',
  approved: { name: 'Healthdirect Video Call', url: 'https://vcc.healthdirect.org.au/' },
  aboutUrl: 'https://clinic.example/consultguard',
  timeoutSec: 300,
});

describe('Linux notification (notify-send over D-Bus)', () => {
  it('asks for one open action (also the click default), the why action, waiting, and escapes body markup', () => {
    const c = linuxNotifyCommand(request, { stdbuf: true });
    expect(c.cmd).toBe('stdbuf');
    expect(c.args.slice(0, 2)).toEqual(['-oL', 'notify-send']);
    expect(c.args).toEqual(expect.arrayContaining([
      '--app-name=ConsultGuard', '--print-id', '--wait', '--expire-time=300000',
      '--action=default=Open Healthdirect Video Call', '--action=open=Open Healthdirect Video Call', '--action=about=Why am I seeing this?',
    ]));
    expect(c.args.slice(-3)).toEqual(['--', request.title, 'Zoom is not approved here. Use "Healthdirect" &amp; keep &lt;data&gt; safe; it\'s quick.']);
    expect(linuxNotifyCommand({ ...request, aboutUrl: undefined }, { stdbuf: false }).args.join(' ')).not.toContain('about');
  });

  it('maps its output: id = shown, action names = open/about', () => {
    const c = linuxNotifyCommand(request, { stdbuf: true });
    expect(c.parse('17')).toEqual({ kind: 'shown' });
    expect(c.parse('default')).toEqual({ kind: 'action', action: 'open' });
    expect(c.parse('open')).toEqual({ kind: 'action', action: 'open' });
    expect(c.parse('about')).toEqual({ kind: 'action', action: 'about' });
    expect(c.parse('something else')).toBeNull();
  });
});

describe('macOS notification', () => {
  it('alerter: Notification Centre alert with the open and why buttons, JSON answer', () => {
    const c = alerterCommand(request, '/Library/Application Support/ConsultGuard/bin/alerter');
    expect(c.cmd).toBe('/Library/Application Support/ConsultGuard/bin/alerter');
    expect(c.args).toEqual([
      '-title', 'ConsultGuard', '-subtitle', request.title, '-message', request.message,
      '-actions', 'Open Healthdirect Video Call,Why am I seeing this?', '-closeLabel', 'Not now',
      '-timeout', '300', '-group', `consultguard.${request.id}`, '-json',
    ]);
    expect(c.shownOnSpawn).toBe(true);
    expect(c.parse('{"activationType":"actionClicked","activationValue":"Open Healthdirect Video Call"}')).toEqual({ kind: 'action', action: 'open' });
    expect(c.parse('{"activationType":"contentsClicked"}')).toEqual({ kind: 'action', action: 'open' });
    expect(c.parse('{"activationType":"actionClicked","activationValue":"Why am I seeing this?"}')).toEqual({ kind: 'action', action: 'about' });
    expect(c.parse('{"activationType":"timeout"}')).toEqual({ kind: 'closed', detail: 'expired' });
    expect(c.parse('{"activationType":"closed","activationValue":"Not now"}')).toMatchObject({ kind: 'closed' });
  });

  it('osascript fallback: a dialog with the approved app as default button that gives up by itself', () => {
    const c = osascriptDialogCommand(request);
    expect(c.cmd).toBe('osascript');
    expect(c.args[0]).toBe('-e');
    expect(c.args[1]).toBe(
      `display dialog "Zoom is not approved here. Use \\"Healthdirect\\" & keep <data> safe; it's quick." with title "${request.title}" `
      + 'buttons {"Why am I seeing this?", "Not now", "Open Healthdirect Video Call"} default button "Open Healthdirect Video Call" giving up after 300 with icon note',
    );
    expect(c.parse('button returned:Open Healthdirect Video Call, gave up:false')).toEqual({ kind: 'action', action: 'open' });
    expect(c.parse('button returned:Why am I seeing this?, gave up:false')).toEqual({ kind: 'action', action: 'about' });
    expect(c.parse('button returned:Not now, gave up:false')).toMatchObject({ kind: 'closed' });
    expect(c.parse('button returned:, gave up:true')).toEqual({ kind: 'closed', detail: 'expired' });
    expect(appleString('a\\b"c')).toBe('"a\\\\b\\"c"');
  });
});

// The Windows toast (XML, script, parsing) is covered by test/unit/win-toast.test.ts.

describe('opening the approved app', () => {
  const url = 'https://vcc.healthdirect.org.au/';
  it.each([
    ['linux', undefined, { cmd: 'xdg-open', args: [url] }],
    ['linux', 'healthdirect-vcc.desktop', { cmd: 'gtk-launch', args: ['healthdirect-vcc'] }],
    ['linux', '/opt/hd/vcc --new-window', { cmd: '/opt/hd/vcc', args: ['--new-window'] }],
    ['darwin', undefined, { cmd: 'open', args: [url] }],
    ['darwin', 'au.org.healthdirect.vcc', { cmd: 'open', args: ['-b', 'au.org.healthdirect.vcc'] }],
    ['darwin', 'Healthdirect Video Call', { cmd: 'open', args: ['-a', 'Healthdirect Video Call'] }],
    ['win32', undefined, { cmd: 'explorer.exe', args: [url] }],
    ['win32', 'Healthdirect.VCC_8wekyb3d8bbwe!App', { cmd: 'explorer.exe', args: ['shell:AppsFolder\\Healthdirect.VCC_8wekyb3d8bbwe!App'] }],
    ['win32', 'C:\\Program Files\\Healthdirect\\vcc.exe', { cmd: 'C:\\Program Files\\Healthdirect\\vcc.exe', args: [] }],
  ] as const)('%s %s', (platform, target, expected) => {
    expect(openCommand(platform, url, target)).toEqual(expected);
  });
});

describe('nudge text', () => {
  const policy = {
    mode: 'nudge' as const,
    approved: { name: 'Healthdirect Video Call', url: 'https://vcc.healthdirect.org.au/', apps: [], open: { darwin: 'au.org.healthdirect.vcc' } },
    nudge: NudgeSettings.parse({ aboutUrl: 'https://clinic.example/why' }),
    catalog: { apps: [{ id: 'zoom', name: 'Zoom' }] as never, browsers: [] },
  };
  it('fills {app} with the catalog name and {approved}, and passes this OS launch target', () => {
    const r = renderNudge(policy, { id: request.id, app: 'zoom', reminder: false, platform: 'darwin' });
    expect(r).toMatchObject({
      title: 'Please use Healthdirect Video Call for patient consults',
      message: 'Zoom is not approved for consults at this clinic. Open Healthdirect Video Call to continue the consult securely.',
      approved: { name: 'Healthdirect Video Call', url: 'https://vcc.healthdirect.org.au/', open: 'au.org.healthdirect.vcc' },
      aboutUrl: 'https://clinic.example/why', timeoutSec: 300,
    });
    expect(renderNudge(policy, { id: request.id, app: 'zoom', reminder: false, platform: 'linux' }).approved.open).toBeUndefined();
    expect(NudgeRequest.safeParse(r).success).toBe(true);
  });
  it('says "Reminder", and in enforce mode tells the clinician first when the app will be closed', () => {
    expect(renderNudge(policy, { id: request.id, app: 'zoom', reminder: true, platform: 'linux' }).title).toBe('Reminder: Please use Healthdirect Video Call for patient consults');
    const enforced = renderNudge({ ...policy, mode: 'enforce', nudge: { ...policy.nudge, enforceGraceSeconds: 120 } }, { id: request.id, app: 'zoom', reminder: false, platform: 'linux' });
    expect(enforced.message).toMatch(/ Zoom will be closed in 2 minutes\.$/);
    expect(enforced.timeoutSec).toBe(120);
  });
});

describe('Windows IPC and enforce command lines', () => {
  it('names one pipe and key folder per user, ignoring the domain', () => {
    expect(userSlug('CLINIC\\Dr.Lee')).toBe('dr.lee');
    expect(pipePath('CLINIC\\Dr.Lee')).toBe('\\\\.\\pipe\\consultguard-nudge-dr.lee');
    expect(windowsUserPaths('C:\\ProgramData\\ConsultGuard\\nudge', 'CLINIC\\dr lee')).toEqual({
      dir: 'C:\\ProgramData\\ConsultGuard\\nudge\\dr_lee', keyFile: 'C:\\ProgramData\\ConsultGuard\\nudge\\dr_lee\\key', pipe: '\\\\.\\pipe\\consultguard-nudge-dr_lee',
    });
    expect(() => userSlug('CLINIC\\..')).toThrow(/cannot make a folder name/);
  });

  it('restricts the key folder to SYSTEM and the user, dropping inherited access', () => {
    expect(icaclsArgs('C:\\ProgramData\\ConsultGuard\\nudge\\dr.lee', 'CLINIC\\dr.lee')).toEqual([
      'C:\\ProgramData\\ConsultGuard\\nudge\\dr.lee', '/inheritance:r', '/grant:r', '*S-1-5-18:(OI)(CI)F', 'CLINIC\\dr.lee:(OI)(CI)R',
    ]);
  });

  it('closes politely then by force, with the app\'s child processes', () => {
    expect(taskkillArgs(4120, false)).toEqual(['/PID', '4120', '/T']);
    expect(taskkillArgs(4120, true)).toEqual(['/PID', '4120', '/T', '/F']);
  });

  it('puts the rendezvous beside the service state folder on every OS', () => {
    expect(serviceNudgeRoot('linux')).toBe('/var/lib/consultguard/nudge');
    expect(serviceNudgeRoot('darwin')).toBe('/Library/Application Support/ConsultGuard/nudge');
    expect(serviceNudgeRoot('win32', { ProgramData: 'C:\\ProgramData' })).toBe('C:\\ProgramData\\ConsultGuard\\nudge');
    expect(agentNudgeRoot('/var/lib/consultguard/agent')).toBe(serviceNudgeRoot('linux'));
  });
});
