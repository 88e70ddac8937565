/** What every OS notifier turns its native output into, and the command it runs. */
import type { NudgeRequest } from '../../../shared/ipc.js';

export type NotifyEvent =
  | { kind: 'shown' }
  /** `open`: the clinician chose the approved app; `about`: "Why am I seeing this?". */
  /**
   * `handled`: present when something else already opened the target (Windows: the
   * consultguard: URL handler); null if that worked, else what went wrong.
   */
  | { kind: 'action'; action: 'open' | 'about'; handled?: string | null }
  /** "What ConsultGuard sees" (the local transparency page); `handled` as above. */
  | { kind: 'action'; action: 'sees'; handled?: string | null }
  /** "I need this app for this consult", with the policy reason's id. */
  | { kind: 'action'; action: 'exception'; reason: string }
  | { kind: 'closed'; detail: string }
  | { kind: 'failed'; detail: string };

export interface NotifierCommand {
  cmd: string;
  args: string[];
  /** One line of the command's stdout -> an event (null: nothing to report). */
  parse(line: string): NotifyEvent | null;
  /** The command prints nothing when the notification appears: report `shown` once it started. */
  shownOnSpawn: boolean;
  /** Called once after the final event (Windows: the nudge's pending file goes, so its URLs open nothing more). */
  done?: () => void;
}

export type BuildCommand = (request: NudgeRequest) => NotifierCommand;

export const ABOUT_LABEL = 'Why am I seeing this?';
export const NOT_NOW_LABEL = 'Not now';
export const openLabel = (request: NudgeRequest): string => `Open ${request.approved.name}`;

export const SEES_LABEL = 'What ConsultGuard sees';
export const exceptionLabel = (label: string): string => `I need this app: ${label}`;
/** Windows: the one toast button that leads to the reasons (a second toast). */
export const NEED_LABEL = 'I need this app\u2026';
/** notify-send action keys for exceptions: `exc:<reason id>`. */
export const EXCEPTION_KEY = 'exc:';
