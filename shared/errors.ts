/**
 * One error type for the whole project. Every failure that a user, an agent or an API
 * client can see carries a stable string `code` (documented in docs/errors.md);
 * `message` says what was wrong and what to do. Raw exception text never reaches a
 * client: wire and HTTP shapes are built from `code` and `message` only.
 */
export type ErrorCode =
  // configuration and command line
  | 'bad_option'
  | 'bad_config'
  // policy and catalog files
  | 'bad_policy'
  | 'policy_not_found'
  // snapshots
  | 'bad_snapshot'
  // wire protocol
  | 'bad_json'
  | 'bad_message'
  | 'hello_required'
  | 'hello_timeout'
  | 'unauthorized'
  | 'rate_limited'
  | 'quota_exceeded'
  | 'enrolment_limit'
  // HTTP API
  | 'not_found'
  | 'forbidden'
  | 'csrf'
  | 'bad_request'
  | 'internal'
  // single sign-on (server/oidc/): the browser's sign-in pages
  | 'sso_failed'
  | 'sso_refused'
  | 'sso_unavailable'
  // storage
  | 'store_unavailable'
  // agent: its own files (state folder, outbox)
  | 'bad_state'
  | 'disk_full'
  // agent <-> nudge helper (agent/nudge, shared/ipc.ts); `unauthorized` and `bad_message` above too
  | 'no_helper'
  | 'untrusted_helper'
  | 'helper_refused'
  | 'unknown_user'
  | 'timeout';

export class AppError extends Error {
  override readonly name = 'AppError';
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export function isAppError(err: unknown, code?: ErrorCode): err is AppError {
  return err instanceof AppError && (code === undefined || err.code === code);
}

/** The one shape every error takes on the wire and over HTTP. */
export function errorBody(err: AppError): { code: ErrorCode; message: string } {
  return { code: err.code, message: err.message };
}

/** Best-effort text of an unknown thrown value, for logs (never for clients). */
export function describe(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
