/**
 * The helper's part of one nudge: show it with this OS's notifier, open what the
 * clinician chose, and report shown, then clicked / dismissed / failed.
 */
import type { Logger } from '../../shared/log.js';
import type { NudgeRequest } from '../../shared/ipc.js';
import type { Claim, Report } from './ipc-server.js';
import { writeTransparencyPage } from '../privacy/page.js';
import { launch, openCommand, type Launch } from './open.js';
import { runNotifier } from './notify/run.js';
import type { NotifierCommand, NotifyEvent } from './notify/types.js';

export interface PresentDeps {
  platform: NodeJS.Platform;
  notifier: (request: NudgeRequest) => NotifierCommand;
  launch?: (l: Launch) => Promise<string | null>;
  /** Where the helper writes "What ConsultGuard sees" before opening it (a folder of this user's). */
  pageDir?: string;
  log: Logger;
}

export function createPresenter(deps: PresentDeps) {
  const start = deps.launch ?? launch;
  return async function present(request: NudgeRequest, report: Report, claim: Claim = () => {}): Promise<void> {
    const handle = async (event: NotifyEvent): Promise<void> => {
      switch (event.kind) {
        case 'shown':
          return report('shown');
        case 'action': {
          if (event.action === 'exception') {
            const reason = request.exceptions?.reasons.find((r) => r.id === event.reason);
            if (reason && request.exceptions) {
              claim(reason.id, request.exceptions.maxMinutes);
              return report('dismissed', `claimed an exception: ${reason.label}`);
            }
            return report('dismissed', `chose an exception reason this nudge did not offer ("${event.reason.slice(0, 41)}"); nothing claimed`);
          }
          if (event.action === 'sees' && request.sees) {
            // Windows: the URL handler already opened the page the helper wrote for the toast.
            const problem = event.handled !== undefined ? event.handled : await start(openCommand(deps.platform, writeTransparencyPage(request.sees, deps.pageDir).url));
            return report('dismissed', problem ? `asked what ConsultGuard sees, but ${problem}` : 'opened "What ConsultGuard sees"');
          }
          // Windows: the URL handler already opened it; only its result is reported here.
          const handled = 'handled' in event ? event.handled : undefined;
          const opened = (l: Launch) => (handled !== undefined ? Promise.resolve(handled) : start(l));
          if (event.action === 'about' && request.aboutUrl) {
            const problem = await opened(openCommand(deps.platform, request.aboutUrl));
            return report('dismissed', problem ? `asked why, but ${problem}` : 'opened "Why am I seeing this?"');
          }
          const problem = await opened(openCommand(deps.platform, request.approved.url, request.approved.open));
          if (problem) deps.log.warn({ problem }, `could not open ${request.approved.name}`);
          return report('clicked', problem ? `chose ${request.approved.name}, but ${problem}` : `opened ${request.approved.name}`);
        }
        case 'closed':
          return report('dismissed', event.detail);
        case 'failed':
          deps.log.warn({ detail: event.detail }, 'could not show a nudge');
          return report('failed', event.detail);
      }
    };
    // Events are handled in order: `shown` is always reported before the final outcome.
    let chain = Promise.resolve();
    await runNotifier(deps.notifier(request), (event) => void (chain = chain.then(() => handle(event))), (request.timeoutSec + 15) * 1000);
    await chain;
  };
}
