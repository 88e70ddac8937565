/**
 * Windows: a toast through WinRT from Windows PowerShell 5.1 (present on every Windows
 * 10/11), sent as -EncodedCommand so no text needs shell quoting. The toast's buttons use
 * foreground activation: the script sees which one was chosen (Activated event, as
 * BurntToast does), prints it, and the helper opens the target. The toast expires with the
 * script, so a stale one is never left in Action Centre with buttons that do nothing.
 * Unit-tested here; not run on Windows in this repository's CI.
 */
import type { NudgeRequest } from '../../../shared/ipc.js';
import { ABOUT_LABEL, openLabel, type NotifierCommand, type NotifyEvent } from './types.js';
import { systemTool } from '../../system-tools.js';

/**
 * The toast's sender. PowerShell's own AppUserModelID works without registration; an
 * installer that adds a Start-menu shortcut with its own AUMID can pass that instead.
 */
export const POWERSHELL_AUMID = '{1AC14E77-02E7-4E5D-B744-2EB1AE5198B7}\\WindowsPowerShell\\v1.0\\powershell.exe';

export const escapeXml = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');

export function toastXml(request: NudgeRequest): string {
  const actions = [
    `<action content="${escapeXml(openLabel(request))}" arguments="open" activationType="foreground"/>`,
    ...(request.aboutUrl ? [`<action content="${escapeXml(ABOUT_LABEL)}" arguments="about" activationType="foreground"/>`] : []),
  ];
  return [
    '<toast launch="open" activationType="foreground" duration="long">',
    '<visual><binding template="ToastGeneric">',
    `<text>${escapeXml(request.title)}</text>`,
    `<text>${escapeXml(request.message)}</text>`,
    '<text placement="attribution">ConsultGuard</text>',
    '</binding></visual>',
    `<actions>${actions.join('')}</actions>`,
    '</toast>',
  ].join('');
}

/** A PowerShell single-quoted string literal. */
export const psString = (text: string): string => `'${text.replace(/'/g, "''")}'`;

export function toastScript(request: NudgeRequest, appId = POWERSHELL_AUMID): string {
  return [
    "$ErrorActionPreference = 'Stop'",
    'try {',
    '  [Windows.UI.Notifications.ToastNotificationManager, Windows.UI.Notifications, ContentType = WindowsRuntime] | Out-Null',
    '  [Windows.Data.Xml.Dom.XmlDocument, Windows.Data.Xml.Dom.XmlDocument, ContentType = WindowsRuntime] | Out-Null',
    '  $xml = New-Object Windows.Data.Xml.Dom.XmlDocument',
    `  $xml.LoadXml(${psString(toastXml(request))})`,
    '  $toast = New-Object Windows.UI.Notifications.ToastNotification $xml',
    `  $toast.Tag = ${psString(request.id.slice(0, 16))}`,
    "  $toast.Group = 'ConsultGuard'",
    `  $toast.ExpirationTime = [DateTimeOffset]::Now.AddSeconds(${request.timeoutSec})`,
    "  Register-ObjectEvent -InputObject $toast -EventName Activated -SourceIdentifier 'cg.activated' | Out-Null",
    "  Register-ObjectEvent -InputObject $toast -EventName Dismissed -SourceIdentifier 'cg.dismissed' | Out-Null",
    "  Register-ObjectEvent -InputObject $toast -EventName Failed -SourceIdentifier 'cg.failed' | Out-Null",
    `  [Windows.UI.Notifications.ToastNotificationManager]::CreateToastNotifier(${psString(appId)}).Show($toast)`,
    "  [Console]::Out.WriteLine('shown'); [Console]::Out.Flush()",
    `  $deadline = (Get-Date).AddSeconds(${request.timeoutSec})`,
    '  while ((Get-Date) -lt $deadline) {',
    '    $e = Wait-Event -Timeout 1',
    '    if (-not $e) { continue }',
    '    Remove-Event -EventIdentifier $e.EventIdentifier',
    '    switch ($e.SourceIdentifier) {',
    "      'cg.activated' { [Console]::Out.WriteLine('action:' + $e.SourceArgs[1].Arguments); exit 0 }",
    "      'cg.dismissed' { [Console]::Out.WriteLine('closed:' + $e.SourceArgs[1].Reason); exit 0 }",
    "      'cg.failed' { [Console]::Out.WriteLine('failed:' + $e.SourceArgs[1].ErrorCode.Message); exit 1 }",
    '    }',
    '  }',
    "  [Console]::Out.WriteLine('closed:expired')",
    '} catch {',
    "  [Console]::Out.WriteLine('failed:' + $_.Exception.Message); exit 1",
    '}',
  ].join('\r\n');
}

export function win32NotifyCommand(request: NudgeRequest, appId?: string): NotifierCommand {
  const encoded = Buffer.from(toastScript(request, appId), 'utf16le').toString('base64');
  return {
    cmd: systemTool('powershell', 'win32'),
    args: ['-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-WindowStyle', 'Hidden', '-EncodedCommand', encoded],
    shownOnSpawn: false,
    parse(line): NotifyEvent | null {
      const text = line.trim();
      if (text === 'shown') return { kind: 'shown' };
      if (text === 'action:open') return { kind: 'action', action: 'open' };
      if (text === 'action:about') return { kind: 'action', action: 'about' };
      if (text.startsWith('closed:')) return { kind: 'closed', detail: text === 'closed:expired' ? 'expired' : `dismissed (${text.slice(7)})` };
      if (text.startsWith('failed:')) return { kind: 'failed', detail: `toast failed: ${text.slice(7)}` };
      return null;
    },
  };
}
