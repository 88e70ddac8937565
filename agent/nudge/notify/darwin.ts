/**
 * macOS. Notification Centre banners posted by `osascript -e 'display notification'`
 * cannot carry a button, and a click on them opens Script Editor, so:
 *  - preferred: `alerter` (a maintained terminal-notifier fork, MIT) if the installer ships
 *    it: a real Notification Centre alert with our buttons, printing JSON on the answer;
 *  - otherwise: an AppleScript dialog with the same buttons that gives up by itself, built
 *    into every Mac.
 * Both are only unit-tested here (no macOS on this build machine). Exceptions and "What
 * ConsultGuard sees" are alerter actions; the dialog has room for three buttons only, so
 * without alerter the clinician uses `consultguard-agent exception` and `transparency`.
 */
import type { NudgeRequest } from '../../../shared/ipc.js';
import { ABOUT_LABEL, SEES_LABEL, exceptionLabel, openLabel, type NotifierCommand, type NotifyEvent } from './types.js';
import { systemTool } from '../../system-tools.js';

/** alerter separates actions with commas. */
const label = (text: string): string => text.replace(/,/g, ' ');

export function alerterCommand(request: NudgeRequest, alerter: string): NotifierCommand {
  const open = label(openLabel(request));
  // alerter shows several actions as a drop-down: the exception reasons and the transparency page fit there.
  const reasons = (request.exceptions?.reasons ?? []).map((r) => ({ id: r.id, text: label(exceptionLabel(r.label)) }));
  const actions = [open, ...(request.aboutUrl ? [ABOUT_LABEL] : []), ...reasons.map((r) => r.text), ...(request.sees ? [SEES_LABEL] : [])];
  return {
    cmd: alerter,
    args: ['-title', 'ConsultGuard', '-subtitle', request.title, '-message', request.message, '-actions', actions.join(','), '-closeLabel', 'Not now',
      '-timeout', String(request.timeoutSec), '-group', `consultguard.${request.id}`, '-json'],
    shownOnSpawn: true,
    parse(line): NotifyEvent | null {
      let answer: { activationType?: string; activationValue?: string };
      try {
        answer = JSON.parse(line) as typeof answer;
      } catch {
        return null;
      }
      if (answer.activationType === 'contentsClicked') return { kind: 'action', action: 'open' };
      if (answer.activationType === 'actionClicked') {
        if (answer.activationValue === open) return { kind: 'action', action: 'open' };
        if (answer.activationValue === ABOUT_LABEL) return { kind: 'action', action: 'about' };
        if (answer.activationValue === SEES_LABEL) return { kind: 'action', action: 'sees' };
        const reason = reasons.find((r) => r.text === answer.activationValue);
        if (reason) return { kind: 'action', action: 'exception', reason: reason.id };
      }
      return { kind: 'closed', detail: answer.activationType === 'timeout' ? 'expired' : `closed (${answer.activationType ?? 'no answer'})` };
    },
  };
}

/** An AppleScript string literal. */
export const appleString = (text: string): string => `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

export function osascriptDialogCommand(request: NudgeRequest): NotifierCommand {
  const open = openLabel(request);
  // At most three buttons; the last is the default (Return key).
  const buttons = [...(request.aboutUrl ? [ABOUT_LABEL] : []), 'Not now', open];
  const script = `display dialog ${appleString(request.message)} with title ${appleString(request.title)} buttons {${buttons.map(appleString).join(', ')}} default button ${appleString(open)} giving up after ${request.timeoutSec} with icon note`;
  return {
    cmd: systemTool('osascript', 'darwin'),
    args: ['-e', script],
    shownOnSpawn: true,
    parse(line): NotifyEvent | null {
      // "button returned:Open Healthdirect Video Call, gave up:false"
      const m = /^button returned:(.*), gave up:(true|false)$/.exec(line.trim());
      if (!m) return null;
      if (m[2] === 'true') return { kind: 'closed', detail: 'expired' };
      if (m[1] === open) return { kind: 'action', action: 'open' };
      if (m[1] === ABOUT_LABEL) return { kind: 'action', action: 'about' };
      return { kind: 'closed', detail: 'dismissed ("Not now")' };
    },
  };
}
