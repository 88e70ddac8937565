/**
 * Windows: a toast through WinRT from Windows PowerShell 5.1 (on every Windows 10/11), sent
 * as -EncodedCommand. Built for what 5.1 can and cannot do:
 *
 * - Buttons use PROTOCOL activation (`consultguard:open?n=ID`): Windows opens the URL with
 *   the handler the MSI registered (consultguard-service.exe open-url -> url-handler.ts),
 *   which records the click durably and opens the approved app. Nothing subscribes to the
 *   toast's events, which 5.1 never delivers for WinRT objects (BurntToast enables them on
 *   PowerShell 7.1+ only), so the old foreground-activation buttons did nothing.
 * - Layout (a toast has at most 5 buttons; a protocol button carries no input, so a
 *   selection box could not tell the handler which reason was picked): the first toast has
 *   "Open <approved app>", "I need this app…" (when the policy lists reasons), "What
 *   ConsultGuard sees", "Why am I seeing this?" (when the policy has a page) and "Not now":
 *   5 at most. "I need this app…" replaces it with a second toast, one button per reason
 *   (a sixth reason goes in its right-click menu, `placement="contextMenu"`, which does not
 *   count toward the 5), each a `consultguard:claim?n=ID&r=REASON&t=NONCE` URL. The reason
 *   is one more click, but every reason keeps its full label, which the clinician must read
 *   to choose honestly, and the first toast keeps room for the two ways out of the nudge
 *   (the approved app, "What ConsultGuard sees") that the issue wants on every nudge.
 *   NONCE is this toast's secret (url-handler.ts: why a claim URL needs one).
 * - The sender is ConsultGuard's own AppUserModelID, which the MSI's Start-menu shortcut
 *   carries, so the toast is branded and Windows lets it through.
 * - "shown" only when Windows accepted it: the notifier's Setting must be Enabled (the user
 *   or a policy can turn ConsultGuard's toasts off), and the shell must not be holding
 *   toasts (Focus Assist / Do not disturb, presentation or full-screen: asked through
 *   `consultguard-service.exe notify-state`, which runs as the user). Otherwise no toast
 *   and a `failed` outcome that says why.
 * - "dismissed" (the toast left Windows' notification history before its time, or "Not
 *   now") is told apart from "timed out" (still unanswered at expiry; then it is removed so
 *   no stale toast with live buttons stays in Action Centre).
 * - No user text is ever inside a PowerShell string literal: the toast XML and file paths go
 *   in as base64 (only [A-Za-z0-9+/=]), so no quote of any kind (', U+2018-U+201B, which
 *   PowerShell also treats as single quotes) can end a string. The few literals left are
 *   constants or hex, and psString escapes every single-quote form anyway.
 *
 * Unit-tested on Linux on the generated XML and script; run on real Windows in the pilot
 * (installers/README.md). Wine has no PowerShell and no toasts.
 */
import { win32 } from 'node:path';
import type { NudgeRequest } from '../../../shared/ipc.js';
import { systemTool } from '../../system-tools.js';
import { ABOUT_LABEL, NEED_LABEL, NOT_NOW_LABEL, SEES_LABEL, openLabel, type NotifierCommand, type NotifyEvent } from './types.js';

/** Must match wxs.ts AUMID (the shortcut's System.AppUserModel.ID). */
export const CONSULTGUARD_AUMID = 'ConsultGuard.Agent';
export const TOAST_GROUP = 'ConsultGuard';

export const escapeXml = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');

/**
 * A PowerShell single-quoted string literal. PowerShell ends such a string at any of
 * ' U+2018 U+2019 U+201A U+201B, and a doubled one of them stands for itself.
 */
export const psString = (text: string): string => `'${text.replace(/['\u2018\u2019\u201A\u201B]/g, (q) => q + q)}'`;

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');

export type ToastAction = 'open' | 'about' | 'sees' | 'dismiss';

/** `consultguard:ACTION?n=ID`: what the toast hands to the registered URL handler. */
export const nudgeUrl = (action: ToastAction, id: string): string => `consultguard:${action}?n=${id}`;
/** "I need this app…": the script answers it with the reasons toast. */
export const needUrl = (id: string, nonce: string): string => `consultguard:need?n=${id}&t=${nonce}`;
/** One exception reason: the claim (url-handler.ts checks the nonce, the reason and that it is the first). */
export const claimUrl = (id: string, reason: string, nonce: string): string => `consultguard:claim?n=${id}&r=${reason}&t=${nonce}`;

/** The toast's tag: 16 hex characters of the nudge id (old Windows 10 allows 16; hex needs no escaping). */
export const toastTag = (id: string): string => id.replace(/[^0-9a-f]/gi, '').slice(0, 16).toLowerCase();
/** The reasons toast's tag: another 16 characters, so the two are told apart in the history. */
export const reasonsTag = (id: string): string => `${toastTag(id).slice(0, 15)}r`;

const button = (label: string, url: string, placement?: 'contextMenu') =>
  `<action content="${escapeXml(label)}" arguments="${escapeXml(url)}" activationType="protocol"${placement ? ` placement="${placement}"` : ''}/>`;

/** Does this nudge offer exceptions on Windows? Only with reasons and a nonce to bind them to. */
const offersException = (request: NudgeRequest, nonce?: string): nonce is string => Boolean(nonce && request.exceptions?.reasons.length);

export function toastXml(request: NudgeRequest, nonce?: string): string {
  const actions = [
    button(openLabel(request), nudgeUrl('open', request.id)),
    ...(offersException(request, nonce) ? [button(NEED_LABEL, needUrl(request.id, nonce))] : []),
    ...(request.sees ? [button(SEES_LABEL, nudgeUrl('sees', request.id))] : []),
    ...(request.aboutUrl ? [button(ABOUT_LABEL, nudgeUrl('about', request.id))] : []),
    button(NOT_NOW_LABEL, nudgeUrl('dismiss', request.id)),
  ];
  return [
    `<toast launch="${escapeXml(nudgeUrl('open', request.id))}" activationType="protocol" duration="long">`,
    '<visual><binding template="ToastGeneric">',
    `<text>${escapeXml(request.title)}</text>`,
    `<text>${escapeXml(request.message)}</text>`,
    '<text placement="attribution">ConsultGuard</text>',
    '</binding></visual>',
    `<actions>${actions.join('')}</actions>`,
    '</toast>',
  ].join('');
}

/** Windows shows at most 5 buttons; further reasons go in the toast's right-click menu. */
const MAX_BUTTONS = 5;

/** The second toast, after "I need this app…": one claim button per policy reason. Null when none is offered. */
export function reasonsToastXml(request: NudgeRequest, nonce?: string): string | null {
  if (!offersException(request, nonce) || !request.exceptions) return null;
  const { reasons, maxMinutes } = request.exceptions;
  const actions = reasons.map((r, i) => button(r.label, claimUrl(request.id, r.id, nonce), i < MAX_BUTTONS ? undefined : 'contextMenu'));
  return [
    // The body itself opens the approved app, as on the first toast; never a claim.
    `<toast launch="${escapeXml(nudgeUrl('open', request.id))}" activationType="protocol" duration="long">`,
    '<visual><binding template="ToastGeneric">',
    '<text>Why do you need this app for this consult?</text>',
    `<text>${escapeXml(`Choose the reason. You will not be reminded about it for up to ${maxMinutes} minutes, and your lead sees the reason you chose.`)}</text>`,
    '<text placement="attribution">ConsultGuard</text>',
    '</binding></visual>',
    `<actions>${actions.join('')}</actions>`,
    '</toast>',
  ].join('');
}

export interface ToastFiles {
  /** The file the URL handler writes when a button is chosen (url-handler.ts clickFile). */
  click: string;
  /** consultguard-service.exe, for `notify-state`; null: not installed, skip that check. */
  serviceExe: string | null;
  /** This toast's secret for need/claim URLs (url-handler.ts); absent: no exception buttons. */
  nonce?: string;
}

export function toastScript(request: NudgeRequest, files: ToastFiles): string {
  const decode = (text: string) => `$utf8.GetString([Convert]::FromBase64String(${psString(b64(text))}))`;
  const emit = (text: string) => `[Console]::Out.WriteLine(${text}); [Console]::Out.Flush()`;
  const reasons = reasonsToastXml(request, files.nonce);
  return [
    "$ErrorActionPreference = 'Stop'",
    'try {',
    '  $utf8 = [Text.Encoding]::UTF8',
    `  $appId = ${psString(CONSULTGUARD_AUMID)}`,
    `  $group = ${psString(TOAST_GROUP)}`,
    `  $click = ${decode(files.click)}`,
    // What the functions below change lives in one table: they find it in the caller's scope
    // and change it in place (no scope modifiers, whatever scope -EncodedCommand runs in).
    `  $st = @{ tag = ${psString(toastTag(request.id))}; asked = $false }`,
    `  $reasonsXml = ${reasons ? decode(reasons) : '$null'}`,
    ...(files.serviceExe
      ? [
        `  $cgExe = ${decode(files.serviceExe)}`,
        '  $state = (& $cgExe notify-state | Out-String).Trim()',
        `  if ($state -and $state -notmatch '^quns=(accepts|unknown) focus=(off|unknown)$') { ${emit("'refused:held ' + $state")}; exit 0 }`,
      ]
      : []),
    '  [Windows.UI.Notifications.ToastNotificationManager, Windows.UI.Notifications, ContentType = WindowsRuntime] | Out-Null',
    '  [Windows.Data.Xml.Dom.XmlDocument, Windows.Data.Xml.Dom.XmlDocument, ContentType = WindowsRuntime] | Out-Null',
    '  $notifier = [Windows.UI.Notifications.ToastNotificationManager]::CreateToastNotifier($appId)',
    `  if ($notifier.Setting -ne [Windows.UI.Notifications.NotificationSetting]::Enabled) { ${emit("'refused:setting ' + $notifier.Setting")}; exit 0 }`,
    `  $expires = [DateTimeOffset]::Now.AddSeconds(${request.timeoutSec})`,
    '  function Show-Toast($text, $t) {',
    '    $xml = New-Object Windows.Data.Xml.Dom.XmlDocument',
    '    $xml.LoadXml($text)',
    '    $toast = New-Object Windows.UI.Notifications.ToastNotification $xml',
    '    $toast.Tag = $t',
    '    $toast.Group = $group',
    '    $toast.ExpirationTime = $expires',
    '    $notifier.Show($toast)',
    '  }',
    // The click file appears first; its ".result" (what the handler did) right after.
    // "need" (I need this app…) swaps in the reasons toast once and keeps waiting; any
    // other choice is the answer.
    '  function Read-Click {',
    "    $r = $click + '.result'; $until = (Get-Date).AddSeconds(5)",
    '    while (-not (Test-Path -LiteralPath $r) -and (Get-Date) -lt $until) { Start-Sleep -Milliseconds 200 }',
    '    $a = (Get-Content -LiteralPath $click -Raw -Encoding UTF8).Trim()',
    "    $res = if (Test-Path -LiteralPath $r) { (Get-Content -LiteralPath $r -Raw -Encoding UTF8).Trim() } else { 'no-result' }",
    "    if ($a -eq 'need' -and $reasonsXml) {",
    '      Remove-Item -LiteralPath $click, $r -Force -ErrorAction SilentlyContinue',
    '      if (-not $st.asked) {',
    '        $st.asked = $true',
    '        try { $history.Remove($st.tag, $group, $appId) } catch { }',
    `        $st.tag = ${psString(reasonsTag(request.id))}`,
    '        Show-Toast $reasonsXml $st.tag',
    '      }',
    '      return',
    '    }',
    `    ${emit("'action:' + $a + ' ' + $res")}; exit 0`,
    '  }',
    '  $history = [Windows.UI.Notifications.ToastNotificationManager]::History',
    `  Show-Toast (${decode(toastXml(request, files.nonce))}) $st.tag`,
    `  ${emit("'shown'")}`,
    `  $deadline = (Get-Date).AddSeconds(${request.timeoutSec})`,
    '  while ((Get-Date) -lt $deadline) {',
    '    Start-Sleep -Milliseconds 500',
    '    if (Test-Path -LiteralPath $click) { Read-Click; continue }',
    '    if (@($history.GetHistory($appId) | Where-Object { $_.Tag -eq $st.tag }).Count -eq 0) {',
    // A button click also removes the toast: give the handler time to record it.
    '      $until = (Get-Date).AddSeconds(8); $again = $false',
    '      while ((Get-Date) -lt $until) {',
    '        if (Test-Path -LiteralPath $click) { Read-Click; $again = $true; break }',
    '        Start-Sleep -Milliseconds 250',
    '      }',
    '      if ($again) { continue }',
    `      ${emit("'closed:dismissed'")}; exit 0`,
    '    }',
    '  }',
    '  $history.Remove($st.tag, $group, $appId)',
    `  ${emit("'closed:expired'")}`,
    '} catch {',
    `  ${emit("'failed:' + $_.Exception.Message")}; exit 1`,
    '}',
  ].join('\r\n');
}

/** Where the helper's per-user files and the service exe are, for one nudge. */
export interface Win32NotifyOptions {
  clickFile: (id: string) => string;
  serviceExe: string | null;
  /** This toast's secret (the pending file holds the same); absent: no exception buttons. */
  nonce?: string;
  /** Called once the nudge is over (the helper removes its pending file). */
  done?: () => void;
}

/** The service exe beside the node runtime the helper runs on (INSTALLDIR\node\node.exe). */
export function installedServiceExe(execPath: string = process.execPath): string {
  return win32.join(win32.dirname(win32.dirname(execPath)), 'consultguard-service.exe');
}

export function parseToastLine(line: string): NotifyEvent | null {
  const text = line.trim();
  if (text === 'shown') return { kind: 'shown' };
  // The handler recorded a claim it had checked (nonce, reason, first of this nudge).
  const claim = /^action:claim:([a-z0-9][a-z0-9-]{0,40}) recorded$/.exec(text);
  if (claim) return { kind: 'action', action: 'exception', reason: claim[1]! };
  const click = /^action:(open|about|sees|dismiss) (.*)$/.exec(text);
  if (click) {
    const result = click[2]!;
    if (click[1] === 'dismiss') return { kind: 'closed', detail: 'dismissed ("Not now")' };
    const problem = result === 'opened' ? null : result === 'no-result' ? 'the link handler did not report back' : result.replace(/^failed:\s*/, '');
    return { kind: 'action', action: click[1] as 'open' | 'about' | 'sees', handled: problem };
  }
  if (text === 'closed:dismissed') return { kind: 'closed', detail: 'dismissed (closed before it timed out)' };
  if (text === 'closed:expired') return { kind: 'closed', detail: 'expired' };
  if (text.startsWith('refused:setting ')) {
    return { kind: 'failed', detail: `not shown: Windows notifications are off for ConsultGuard (${text.slice('refused:setting '.length)})` };
  }
  if (text.startsWith('refused:held ')) return { kind: 'failed', detail: `not shown: Windows is holding notifications back (${text.slice('refused:held '.length)})` };
  if (text.startsWith('failed:')) return { kind: 'failed', detail: `toast failed: ${text.slice(7)}` };
  return null;
}

export function win32NotifyCommand(request: NudgeRequest, opts: Win32NotifyOptions): NotifierCommand {
  const script = toastScript(request, { click: opts.clickFile(request.id), serviceExe: opts.serviceExe, ...(opts.nonce ? { nonce: opts.nonce } : {}) });
  return {
    cmd: systemTool('powershell', 'win32'),
    args: ['-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-WindowStyle', 'Hidden', '-EncodedCommand', Buffer.from(script, 'utf16le').toString('base64')],
    shownOnSpawn: false,
    parse: parseToastLine,
    ...(opts.done ? { done: opts.done } : {}),
  };
}
