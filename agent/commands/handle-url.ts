/**
 * `consultguard-agent nudge-helper --handle-url consultguard:ACTION?n=ID[&...]`: what Windows
 * runs (through consultguard-service.exe open-url) when a clinician chooses a toast button.
 * Exit 0 when the click was recorded (and its target, if any, opened), 1 when it could not be
 * (a refused claim included), 2 for a malformed URL; each case is one line in the helper's
 * log, which names the action and the nudge but never the URL (a claim URL holds the toast's key).
 */
import type { Logger } from '../../shared/log.js';
import { helperStateDir } from '../nudge/helper-paths.js';
import { handleNudgeUrl } from '../nudge/url-handler.js';

export async function runHandleUrl(url: string, log: Logger, dir: string = process.env.CONSULTGUARD_HELPER_STATE_DIR ?? helperStateDir()): Promise<number> {
  const r = await handleNudgeUrl(url, dir);
  if (r.problem) {
    log.warn({ action: r.action, nudge: r.id, problem: r.problem }, r.action === 'claim' || r.action === 'need' ? 'toast button: nothing claimed' : 'toast button: nothing opened');
    return 1;
  }
  log.info({ action: r.action, nudge: r.id }, r.action === 'claim' || r.action === 'need' ? 'toast button: choice recorded for the nudge' : 'toast button: click recorded and target opened');
  return 0;
}
