/** Picks this OS's notifier for the helper. */
import type { NudgeRequest } from '../../../shared/ipc.js';
import { alerterCommand, osascriptDialogCommand } from './darwin.js';
import { linuxNotifyCommand } from './linux.js';
import { which } from './run.js';
import type { NotifierCommand } from './types.js';
import { win32NotifyCommand } from './win32.js';

/** Where a macOS installer may put alerter, besides PATH. */
const MAC_ALERTER_DIRS = ['/Library/Application Support/ConsultGuard/bin', '/opt/homebrew/bin', '/usr/local/bin'];

export function notifierFor(platform: NodeJS.Platform = process.platform): (request: NudgeRequest) => NotifierCommand {
  if (platform === 'win32') return (r) => win32NotifyCommand(r);
  if (platform === 'darwin') {
    const alerter = which('alerter', MAC_ALERTER_DIRS);
    return (r) => (alerter ? alerterCommand(r, alerter) : osascriptDialogCommand(r));
  }
  const stdbuf = which('stdbuf') !== null;
  return (r) => linuxNotifyCommand(r, { stdbuf });
}
