/**
 * Linux: a desktop notification over D-Bus (org.freedesktop.Notifications) through
 * `notify-send` from libnotify-bin (0.7.9+ for --action/--wait). Chosen over raw `gdbus`
 * because one child process does the call and waits for that notification's own
 * ActionInvoked/NotificationClosed signals, and prints the chosen action; chosen over
 * node-notifier, which on Linux drops actions and ships vendored binaries for macOS and
 * Windows. `stdbuf -oL` makes notify-send print its id (= shown) at once, not at exit.
 */
import type { NudgeRequest } from '../../../shared/ipc.js';
import { ABOUT_LABEL, EXCEPTION_KEY, SEES_LABEL, exceptionLabel, openLabel, type NotifierCommand, type NotifyEvent } from './types.js';

/** Notification bodies may be parsed as markup by the daemon (body-markup capability). */
export const escapeMarkup = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function linuxNotifyCommand(request: NudgeRequest, opts: { stdbuf: boolean }): NotifierCommand {
  const args = [
    '--app-name=ConsultGuard',
    '--urgency=normal',
    '--icon=dialog-information',
    `--expire-time=${request.timeoutSec * 1000}`,
    '--print-id',
    '--wait',
    // `default` is what a click on the notification itself does: the same as the button.
    `--action=default=${openLabel(request)}`,
    `--action=open=${openLabel(request)}`,
    ...(request.aboutUrl ? [`--action=about=${ABOUT_LABEL}`] : []),
    // One action per exception reason: the daemon shows them as buttons (dunst: its menu).
    ...(request.exceptions?.reasons ?? []).map((r) => `--action=${EXCEPTION_KEY}${r.id}=${exceptionLabel(r.label)}`),
    ...(request.sees ? [`--action=sees=${SEES_LABEL}`] : []),
    '--',
    request.title,
    escapeMarkup(request.message),
  ];
  let shown = false;
  const parse = (line: string): NotifyEvent | null => {
    const text = line.trim();
    if (!shown && /^\d+$/.test(text)) {
      shown = true;
      return { kind: 'shown' };
    }
    if (text === 'default' || text === 'open') return { kind: 'action', action: 'open' };
    if (text === 'about') return { kind: 'action', action: 'about' };
    if (text === 'sees') return { kind: 'action', action: 'sees' };
    if (text.startsWith(EXCEPTION_KEY) && request.exceptions?.reasons.some((r) => `${EXCEPTION_KEY}${r.id}` === text)) {
      return { kind: 'action', action: 'exception', reason: text.slice(EXCEPTION_KEY.length) };
    }
    return null;
  };
  return opts.stdbuf
    ? { cmd: 'stdbuf', args: ['-oL', 'notify-send', ...args], parse, shownOnSpawn: false }
    : { cmd: 'notify-send', args, parse, shownOnSpawn: false };
}
