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
import { systemTool } from '../../agent/system-tools.js';
import { cimIdentityScript, parseCimIdentities, parseProcStat, parsePsLine, readProcessIdentities, sameProcess } from '../../agent/nudge/process-identity.js';
import { agentNudgeRoot, helperNudgeRoots } from '../../agent/nudge/rendezvous.js';
import { systemNudgeRoot } from '../../shared/paths.js';
import { NudgeRequest } from '../../shared/ipc.js';
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
    expect(c.cmd).toBe('/usr/bin/osascript'); // by absolute path, never from PATH
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
    ['darwin', undefined, { cmd: '/usr/bin/open', args: [url] }],
    ['darwin', 'au.org.healthdirect.vcc', { cmd: '/usr/bin/open', args: ['-b', 'au.org.healthdirect.vcc'] }],
    ['darwin', 'Healthdirect Video Call', { cmd: '/usr/bin/open', args: ['-a', 'Healthdirect Video Call'] }],
    ['win32', undefined, { cmd: 'C:\\Windows\\explorer.exe', args: [url] }],
    ['win32', 'Healthdirect.VCC_8wekyb3d8bbwe!App', { cmd: 'C:\\Windows\\explorer.exe', args: ['shell:AppsFolder\\Healthdirect.VCC_8wekyb3d8bbwe!App'] }],
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

  it('runs the OS tools by absolute path (System32 from %SystemRoot%), never from PATH', () => {
    const env = { SystemRoot: 'D:\\WINDOWS' };
    expect(systemTool('taskkill', 'win32', env)).toBe('D:\\WINDOWS\\System32\\taskkill.exe');
    expect(systemTool('icacls', 'win32', env)).toBe('D:\\WINDOWS\\System32\\icacls.exe');
    expect(systemTool('powershell', 'win32', env)).toBe('D:\\WINDOWS\\System32\\WindowsPowerShell\\v1.0\\powershell.exe');
    expect(systemTool('taskkill', 'win32', {})).toBe('C:\\Windows\\System32\\taskkill.exe');
    expect(systemTool('osascript', 'darwin')).toBe('/usr/bin/osascript');
    expect(systemTool('ps', 'darwin')).toBe('/bin/ps');
    expect(systemTool('id', 'linux', {}, (p) => p === '/usr/bin/id')).toBe('/usr/bin/id');
    expect(systemTool('id', 'linux', {}, () => false)).toBe('/bin/id');
  });

  it('reads a process\'s start time and executable on each OS (enforce re-checks them before closing)', () => {
    // Linux /proc/PID/stat: the command name may hold spaces and parentheses.
    expect(parseProcStat('4120 (Zoom (beta) x) S 1 4120 4120 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 12 0 987654 1000 10 0 0')).toBe('987654');
    expect(parseProcStat('garbage')).toBeNull();
    // macOS `ps -o pid= -o lstart= -o comm= -p PIDS` (BSD ps: pid, a 24-character date, the full path).
    expect(parsePsLine(' 4120 Wed Dec  2 09:15:03 2026     /Applications/zoom.us.app/Contents/MacOS/zoom.us\n'))
      .toEqual({ pid: 4120, started: 'Wed Dec  2 09:15:03 2026', path: '/Applications/zoom.us.app/Contents/MacOS/zoom.us' });
    expect(parsePsLine('')).toBeNull();
    // Windows: the CIM query's JSON (one object, or an array for several pids); nothing for pids that are gone.
    expect(parseCimIdentities('{"pid":4120,"started":"2026-12-02T09:15:03.1234560Z","path":"C:\\\\Users\\\\dr.lee\\\\AppData\\\\Roaming\\\\Zoom\\\\bin\\\\Zoom.exe"}\r\n'))
      .toEqual([{ pid: 4120, started: '2026-12-02T09:15:03.1234560Z', path: 'C:\\Users\\dr.lee\\AppData\\Roaming\\Zoom\\bin\\Zoom.exe' }]);
    expect(parseCimIdentities('[{"pid":1,"started":"a","path":null},{"pid":2,"started":"b","path":"C:\\\\x.exe"}]')).toEqual([{ pid: 1, started: 'a', path: null }, { pid: 2, started: 'b', path: 'C:\\x.exe' }]);
    expect(parseCimIdentities('')).toEqual([]);
    expect(cimIdentityScript([4120, 4121])).toContain("Get-CimInstance Win32_Process -Filter 'ProcessId=4120 OR ProcessId=4121'");
    const seen = { pid: 7, started: '100', path: '/opt/zoom/zoom' };
    expect(sameProcess(seen, { ...seen })).toBe(true);
    expect(sameProcess(seen, { ...seen, started: '101' })).toBe(false);
    expect(sameProcess(seen, { ...seen, path: '/usr/bin/sleep' })).toBe(false);
    expect(sameProcess(seen, null)).toBe(false);
  });

  it('asks macOS and Windows once for all pids, with the tool by absolute path', async () => {
    const calls: Array<[string, string[]]> = [];
    const mac = await readProcessIdentities([4120, 4121, 4120], 'darwin', async (cmd, args) => {
      calls.push([cmd, args]);
      return ' 4120 Wed Dec  2 09:15:03 2026 /Applications/zoom.us.app/Contents/MacOS/zoom.us\n';
    });
    expect(calls).toEqual([['/bin/ps', ['-o', 'pid=', '-o', 'lstart=', '-o', 'comm=', '-p', '4120,4121']]]);
    expect([...mac.keys()]).toEqual([4120]);
    const win = await readProcessIdentities([7], 'win32', async (cmd) => (calls.push([cmd, []]), ''));
    expect(win.size).toBe(0);
    expect(calls[1]![0]).toMatch(/\\System32\\WindowsPowerShell\\v1\.0\\powershell\.exe$/);
  });

  it('closes politely then by force, with the app\'s child processes', () => {
    expect(taskkillArgs(4120, false)).toEqual(['/PID', '4120', '/T']);
    expect(taskkillArgs(4120, true)).toEqual(['/PID', '4120', '/T', '/F']);
  });

  it('puts the rendezvous in one per-OS folder that does not depend on the agent\'s --state', () => {
    expect(systemNudgeRoot('linux')).toBe('/var/lib/consultguard/nudge');
    expect(systemNudgeRoot('darwin')).toBe('/Library/Application Support/ConsultGuard/nudge');
    expect(systemNudgeRoot('win32', { ProgramData: 'C:\\ProgramData' })).toBe('C:\\ProgramData\\ConsultGuard\\nudge');
    // The service (root/SYSTEM) and every helper meet in the system folder, whatever --state says.
    expect(agentNudgeRoot(undefined, { platform: 'linux', privileged: true })).toEqual({ root: '/var/lib/consultguard/nudge', source: 'default' });
    expect(agentNudgeRoot(undefined, { platform: 'win32', env: { ProgramData: 'D:\\PD' } })).toEqual({ root: 'D:\\PD\\ConsultGuard\\nudge', source: 'default' });
    // An agent run as an ordinary user meets that user's helper in the user's own folder.
    const env = { XDG_STATE_HOME: '/home/dr/.local/state' };
    expect(agentNudgeRoot(undefined, { platform: 'linux', privileged: false, env })).toEqual({ root: '/home/dr/.local/state/consultguard/nudge', source: 'default' });
    expect(helperNudgeRoots(undefined, 'linux', env)).toEqual(['/var/lib/consultguard/nudge', '/home/dr/.local/state/consultguard/nudge']);
    expect(helperNudgeRoots(undefined, 'win32', { ProgramData: 'C:\\ProgramData' })).toEqual(['C:\\ProgramData\\ConsultGuard\\nudge']);
    // --nudge-dir / --dir / CONSULTGUARD_NUDGE_DIR name it outright, on both sides.
    expect(agentNudgeRoot('/srv/cg/nudge')).toEqual({ root: '/srv/cg/nudge', source: 'option' });
    expect(helperNudgeRoots(undefined, 'linux', { ...env, CONSULTGUARD_NUDGE_DIR: '/srv/cg/nudge' })).toEqual(['/srv/cg/nudge']);
    expect(helperNudgeRoots('/x', 'linux', { CONSULTGUARD_NUDGE_DIR: '/srv/cg/nudge' })).toEqual(['/x']);
  });
});
