/**
 * Why a nudge could not be delivered. These never reach a client as errors: they end up
 * as the `detail` of a `failed` nudge outcome ("code: message"), and in the agent log.
 */
export type NudgeErrorCode =
  /** Nobody is listening for this user: not logged in, or the helper is not started at login. */
  | 'no_helper'
  /** The rendezvous folder or socket does not belong to the user, or the helper failed its proof. */
  | 'untrusted_helper'
  /** The helper refused the agent's proof (keys differ: e.g. the key file was replaced). */
  | 'helper_refused'
  /** The process owner cannot be mapped to a local account. */
  | 'unknown_user'
  /** The helper stopped answering. */
  | 'timeout';

export class NudgeError extends Error {
  override readonly name = 'NudgeError';
  constructor(readonly code: NudgeErrorCode, message: string) {
    super(message);
  }
}

export const detailOf = (err: unknown): string => (err instanceof NudgeError ? `${err.code}: ${err.message}` : `error: ${err instanceof Error ? err.message : String(err)}`).slice(0, 512);
