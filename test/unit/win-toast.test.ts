/**
 * The Windows toast: its XML, the PowerShell script that shows it, and how the script's
 * output lines map to outcomes. PowerShell and toasts cannot run here (nor under wine):
 * the script is pinned as text, the XML is parsed strictly, and the output lines are the
 * ones the script prints (see win32.ts), replayed through the real parser. What a real
 * Windows shows (Focus Assist, a user who turned ConsultGuard off) is in the pilot checklist.
 */
import { describe, expect, it, vi } from 'vitest';
import { createPresenter } from '../../agent/nudge/present.js';
import { silentLogger } from '../../shared/log.js';
import { NudgeRequest } from '../../shared/ipc.js';
import {
  CONSULTGUARD_AUMID, installedServiceExe, nudgeUrl, parseToastLine, psString, toastScript, toastTag, toastXml, win32NotifyCommand,
} from '../../agent/nudge/notify/win32.js';
import { AUMID } from '../../installers/windows/wxs.js';
import { find, findAll, parseXml } from '../installers/xml.js';

// Every quote PowerShell knows: ' and its typographic forms U+2018-U+201B (all of which end a
// single-quoted string), the double quotes " U+201C-U+201E, and a backtick (its escape char).
const QUOTES = `' \u2018 \u2019 \u201A \u201B " \u201C \u201D \u201E \``;
const request = NudgeRequest.parse({
  type: 'nudge',
  id: '5f0e8c1e-8a54-4a59-9e43-2a7f7a0d6f10',
  title: `Dr O\u2019Brien\u2019s consults: use \u201CHealthdirect\u201D`,
  message: `Zoom isn't approved. ${QUOTES} & <data> $(Remove-Item C:\\) \u2018quoted\u2019; end`,
  approved: { name: `Healthdirect \u201AVideo\u201B Call`, url: 'https://vcc.healthdirect.org.au/' },
  aboutUrl: 'https://clinic.example/consultguard',
  timeoutSec: 300,
});
const files = { click: 'C:\\Users\\o\u2019brien\\AppData\\Local\\ConsultGuard\\nudge\\clicks\\5f0e8c1e-8a54-4a59-9e43-2a7f7a0d6f10', serviceExe: 'C:\\Program Files\\ConsultGuard\\consultguard-service.exe' };

/** The single-quoted literals of a PowerShell script, as PowerShell reads them (any quote form ends one; doubled = literal). */
function psLiterals(script: string): string[] {
  const isQ = (c: string | undefined) => c !== undefined && "'\u2018\u2019\u201A\u201B".includes(c);
  const out: string[] = [];
  for (let i = 0; i < script.length; i++) {
    if (!isQ(script[i])) continue;
    let lit = '';
    for (i++; i < script.length; i++) {
      if (isQ(script[i])) {
        if (isQ(script[i + 1])) {
          lit += script[i];
          i++;
          continue;
        }
        break;
      }
      lit += script[i];
    }
    out.push(lit);
  }
  return out;
}

describe('Windows toast XML', () => {
  it('uses protocol activation for the body and every button, naming the nudge, never a target', () => {
    const toast = parseXml(toastXml(request));
    expect(toast.attrs).toEqual({ launch: 'consultguard:open?n=5f0e8c1e-8a54-4a59-9e43-2a7f7a0d6f10', activationType: 'protocol', duration: 'long' });
    const actions = findAll(find(toast, 'actions'), 'action').map((a) => a.attrs);
    expect(actions).toEqual([
      { content: `Open Healthdirect \u201AVideo\u201B Call`, arguments: nudgeUrl('open', request.id), activationType: 'protocol' },
      { content: 'Why am I seeing this?', arguments: nudgeUrl('about', request.id), activationType: 'protocol' },
      { content: 'Not now', arguments: nudgeUrl('dismiss', request.id), activationType: 'protocol' },
    ]);
    expect(toastXml(request)).not.toContain('vcc.healthdirect'); // the URL handler finds the target itself
    expect(findAll(find(parseXml(toastXml({ ...request, aboutUrl: undefined })), 'actions'), 'action')).toHaveLength(2);
  });

  it('keeps every quote and markup character as text', () => {
    const texts = findAll(find(find(parseXml(toastXml(request)), 'visual'), 'binding'), 'text').map((t) => t.text);
    expect(texts).toEqual([request.title, request.message, 'ConsultGuard']);
  });
});

describe('Windows toast script (PowerShell 5.1, no event subscription)', () => {
  const script = toastScript(request, files);

  it('has no clinician, app or path text in any string literal: those travel as base64', () => {
    const literals = psLiterals(script);
    // Everything a literal holds is a constant of win32.ts, a hex tag or base64.
    for (const lit of literals) expect(lit, lit).toMatch(/^[A-Za-z0-9+/=.:_ ()|^$-]*$/);
    const decoded = literals.filter((l) => /^[A-Za-z0-9+/]+=*$/.test(l) && l.length >= 16).map((l) => Buffer.from(l, 'base64').toString('utf8'));
    expect(decoded).toEqual(expect.arrayContaining([toastXml(request), files.click, files.serviceExe]));
    for (const text of [request.title, request.message, "O'Brien", '\u2019', '\u201C', '$(Remove-Item C:']) expect(script).not.toContain(text);
    expect(script).not.toMatch(/Register-ObjectEvent|Wait-Event/);
  });

  it('sends as ConsultGuard\'s AppUserModelID (the one the MSI shortcut carries) and checks Windows accepts it first', () => {
    expect(CONSULTGUARD_AUMID).toBe(AUMID);
    expect(script).toContain(`$appId = 'ConsultGuard.Agent'`);
    expect(script).toContain('CreateToastNotifier($appId)');
    const setting = script.indexOf('$notifier.Setting -ne [Windows.UI.Notifications.NotificationSetting]::Enabled');
    const focus = script.indexOf('notify-state');
    const show = script.indexOf('Show-Toast (');
    expect(setting).toBeGreaterThan(0);
    expect(focus).toBeGreaterThan(0);
    expect(setting).toBeLessThan(show);
    expect(focus).toBeLessThan(show);
    expect(script.indexOf("'shown'")).toBeGreaterThan(show);
    expect(script).toContain(`$st = @{ tag = '${toastTag(request.id)}'; asked = $false }`);
    expect(script).toContain('$toast.Tag = $t');
    expect(script).toContain('$expires = [DateTimeOffset]::Now.AddSeconds(300)');
    expect(script).toContain('$toast.ExpirationTime = $expires');
    // At expiry the toast is taken back, so no live buttons linger in Action Centre.
    expect(script).toContain(`$group = 'ConsultGuard'`);
    expect(script).toContain('$history.Remove($st.tag, $group, $appId)');
  });

  it('skips the Focus Assist check when the service host is not installed', () => {
    expect(toastScript(request, { ...files, serviceExe: null })).not.toContain('notify-state');
  });

  it('is sent base64-encoded as UTF-16LE, with a hidden window', () => {
    const c = win32NotifyCommand(request, { clickFile: () => files.click, serviceExe: files.serviceExe });
    expect(c.cmd).toBe('C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe');
    expect(c.args.slice(0, -1)).toEqual(['-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-WindowStyle', 'Hidden', '-EncodedCommand']);
    expect(Buffer.from(c.args.at(-1)!, 'base64').toString('utf16le')).toBe(script);
    expect(c.shownOnSpawn).toBe(false);
  });

  it('psString doubles every single-quote form PowerShell recognises', () => {
    expect(psString(`a'b\u2018c\u2019d\u201Ae\u201Bf"g\u201Ch`)).toBe(`'a''b\u2018\u2018c\u2019\u2019d\u201A\u201Ae\u201B\u201Bf"g\u201Ch'`);
    expect(psLiterals(psString(QUOTES))).toEqual([QUOTES]);
  });

  it('finds the service host beside the node runtime', () => {
    expect(installedServiceExe('C:\\Program Files\\ConsultGuard\\node\\node.exe')).toBe('C:\\Program Files\\ConsultGuard\\consultguard-service.exe');
  });
});

describe('Windows toast outcomes (the script\'s output lines)', () => {
  // What the script prints in each case, in order, one line each.
  const recorded: [string, string[], unknown[]][] = [
    ['a click on "Open", the handler opened it', ['shown', 'action:open opened'], [{ kind: 'shown' }, { kind: 'action', action: 'open', handled: null }]],
    ['a click on "Open", the app failed to start', ['shown', 'action:open failed: C:\\Apps\\hd.exe is not installed'],
      [{ kind: 'shown' }, { kind: 'action', action: 'open', handled: 'C:\\Apps\\hd.exe is not installed' }]],
    ['a click whose handler never reported back', ['shown', 'action:open no-result'], [{ kind: 'shown' }, { kind: 'action', action: 'open', handled: 'the link handler did not report back' }]],
    ['"Why am I seeing this?"', ['shown', 'action:about opened'], [{ kind: 'shown' }, { kind: 'action', action: 'about', handled: null }]],
    ['"Not now"', ['shown', 'action:dismiss recorded'], [{ kind: 'shown' }, { kind: 'closed', detail: 'dismissed ("Not now")' }]],
    ['closed from Action Centre before its time', ['shown', 'closed:dismissed'], [{ kind: 'shown' }, { kind: 'closed', detail: 'dismissed (closed before it timed out)' }]],
    ['unanswered until it timed out', ['shown', 'closed:expired'], [{ kind: 'shown' }, { kind: 'closed', detail: 'expired' }]],
    ['ConsultGuard notifications turned off by the user', ['refused:setting DisabledForUser'],
      [{ kind: 'failed', detail: 'not shown: Windows notifications are off for ConsultGuard (DisabledForUser)' }]],
    ['Focus Assist on (priority only)', ['refused:held quns=accepts focus=priority-only'],
      [{ kind: 'failed', detail: 'not shown: Windows is holding notifications back (quns=accepts focus=priority-only)' }]],
    ['a presentation running', ['refused:held quns=presentation focus=off'],
      [{ kind: 'failed', detail: 'not shown: Windows is holding notifications back (quns=presentation focus=off)' }]],
    ['WinRT missing', ['failed:Unable to find type [Windows.UI.Notifications.ToastNotificationManager].'],
      [{ kind: 'failed', detail: 'toast failed: Unable to find type [Windows.UI.Notifications.ToastNotificationManager].' }]],
  ];
  it.each(recorded)('%s', (_name, lines, events) => {
    expect(lines.map((l) => parseToastLine(`${l}\r\n`)).filter(Boolean)).toEqual(events);
  });

  it('never reports "shown" for a refused toast, and ignores stray output', () => {
    expect(parseToastLine('refused:setting DisabledByGroupPolicy')?.kind).toBe('failed');
    expect(parseToastLine('WARNING: something PowerShell printed')).toBeNull();
    expect(parseToastLine('action:open')).toBeNull(); // the old foreground-activation form is gone
  });
});

describe('Windows toast through the presenter (a real child printing the script\'s lines)', () => {
  const fake = (lines: string[]) => () => ({
    cmd: process.execPath,
    args: ['-e', `process.stdout.write(${JSON.stringify(lines.map((l) => `${l}\r\n`).join(''))})`],
    shownOnSpawn: false,
    parse: parseToastLine,
  });

  it('reports shown then clicked, and does not open the app a second time (the URL handler did)', async () => {
    const launches: unknown[] = [];
    const reports: [string, string | undefined][] = [];
    const present = createPresenter({ platform: 'win32', notifier: fake(['shown', 'action:open opened']), log: silentLogger(), launch: async (l) => {
      launches.push(l);
      return null;
    } });
    await present(request, async (o, d) => void reports.push([o, d]));
    expect(reports).toEqual([['shown', undefined], ['clicked', `opened ${request.approved.name}`]]);
    expect(launches).toEqual([]);
  });

  it('reports a refused toast as failed, never shown', async () => {
    const reports: string[] = [];
    const present = createPresenter({ platform: 'win32', notifier: fake(['refused:held quns=accepts focus=alarms-only']), log: silentLogger() });
    await present(request, async (o) => void reports.push(o));
    await vi.waitFor(() => expect(reports).toEqual(['failed']));
  });
});
