/** Picks this OS's notifier for the helper. */
import type { NudgeRequest } from '../../../shared/ipc.js';
import { alerterCommand, osascriptDialogCommand } from './darwin.js';
import { linuxNotifyCommand } from './linux.js';
import { which } from './run.js';
import type { NotifierCommand } from './types.js';
import { existsSync } from 'node:fs';
import { helperStateDir } from '../helper-paths.js';
import { openCommand } from '../open.js';
import { clickFile, newToastNonce, removePending, writePending } from '../url-handler.js';
import { writeTransparencyPage } from '../../privacy/page.js';
import { join } from 'node:path';
import { installedServiceExe, win32NotifyCommand } from './win32.js';

/** Where a macOS installer may put alerter, besides PATH. */
const MAC_ALERTER_DIRS = ['/Library/Application Support/ConsultGuard/bin', '/opt/homebrew/bin', '/usr/local/bin'];

export function notifierFor(platform: NodeJS.Platform = process.platform): (request: NudgeRequest) => NotifierCommand {
  if (platform === 'win32') {
    const dir = helperStateDir();
    const exe = installedServiceExe();
    const serviceExe = existsSync(exe) ? exe : null;
    return (r) => {
      // What the consultguard: URL handler may open for this toast (never taken from the URL),
      // and the toast's secret that binds an exception claim to it (url-handler.ts).
      const nonce = r.exceptions?.reasons.length ? newToastNonce() : undefined;
      const page = r.sees ? writeTransparencyPage(r.sees, join(dir, 'sees')) : null;
      writePending(dir, {
        v: 1, id: r.id, expiresAt: Date.now() + (r.timeoutSec + 60) * 1000,
        open: openCommand('win32', r.approved.url, r.approved.open),
        ...(r.aboutUrl ? { about: openCommand('win32', r.aboutUrl) } : {}),
        // The page's path, not a file: URL: explorer opens it with the default browser.
        ...(page ? { sees: openCommand('win32', page.file) } : {}),
        ...(nonce && r.exceptions ? { nonce, reasons: r.exceptions.reasons.map((x) => x.id) } : {}),
      });
      return win32NotifyCommand(r, { clickFile: (id) => clickFile(dir, id), serviceExe, ...(nonce ? { nonce } : {}), done: () => removePending(dir, r.id) });
    };
  }
  if (platform === 'darwin') {
    const alerter = which('alerter', MAC_ALERTER_DIRS);
    return (r) => (alerter ? alerterCommand(r, alerter) : osascriptDialogCommand(r));
  }
  const stdbuf = which('stdbuf') !== null;
  return (r) => linuxNotifyCommand(r, { stdbuf });
}
