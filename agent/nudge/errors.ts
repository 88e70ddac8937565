/**
 * Why a nudge could not be delivered: an `AppError` whose code is one of the nudge codes
 * of shared/errors.ts (no_helper, untrusted_helper, helper_refused, unknown_user, timeout;
 * see docs/errors.md). These never reach a client as errors: they end up as the `detail`
 * of a `failed` nudge outcome ("code: message"), and in the agent log.
 */
import { AppError, describe } from '../../shared/errors.js';

export type NudgeErrorCode = Extract<AppError['code'], 'no_helper' | 'untrusted_helper' | 'helper_refused' | 'unknown_user' | 'timeout'>;

export const nudgeError = (code: NudgeErrorCode, message: string): AppError => new AppError(code, message);

export const detailOf = (err: unknown): string => (err instanceof AppError ? `${err.code}: ${err.message}` : `error: ${describe(err)}`).slice(0, 512);
