/**
 * HTTP plumbing: JSON replies and the one error shape `{ error: { code, message } }`,
 * built here and nowhere else. A reply carries an error's code and a message written for
 * the client: for the client's own mistakes (a bad parameter, a missing token) the
 * message our code wrote naming what was wrong; for the server's failures (internal,
 * store) a fixed text per code, whatever the exception said. Exception text, SQL and
 * paths go to the server log only.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppError, type ErrorCode } from '../../shared/errors.js';

const STATUS: Partial<Record<ErrorCode, number>> = {
  bad_request: 400,
  bad_option: 400,
  unauthorized: 401,
  forbidden: 403,
  csrf: 403,
  not_found: 404,
  sso_failed: 400,
  sso_refused: 403,
  sso_unavailable: 502,
  rate_limited: 429,
  internal: 500,
  store_unavailable: 503,
  disk_full: 503,
};

/** Codes whose message is fixed here: their causes are the server's business, not the client's. */
const FIXED: Partial<Record<ErrorCode, string>> = {
  internal: 'internal error; the server log has the details',
  store_unavailable: 'the store is busy or unavailable; try again in a few seconds (the server log has the details)',
  disk_full: 'the server cannot store anything right now (disk full); an administrator must free space',
};

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

/** An AppError that says when to come back (Retry-After), e.g. a lock-out or a full login queue. */
export class RetryLater extends AppError {
  constructor(code: ErrorCode, message: string, readonly retryAfterSec: number) {
    super(code, message);
  }
}

export interface HttpError {
  status: number;
  code: ErrorCode;
  message: string;
  retryAfterSec: number | null;
  /** Not an error our code raised on purpose: worth a log line with the details. */
  unexpected: boolean;
}

/** SQLite's own failures that are the store's state, not a bug: busy (another writer), full. */
function storeFailure(err: unknown): ErrorCode | null {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !code.startsWith('SQLITE_')) return null;
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return 'store_unavailable';
  if (code === 'SQLITE_FULL') return 'disk_full';
  return null;
}

/** Any thrown value to what the client may see. */
export function httpError(err: unknown): HttpError {
  if (err instanceof AppError) {
    const status = STATUS[err.code] ?? 500;
    const code = status === 500 ? 'internal' : err.code;
    const retry = (err as { retryAfterSec?: unknown }).retryAfterSec;
    return {
      status, code, message: FIXED[code] ?? err.message,
      retryAfterSec: typeof retry === 'number' ? retry : status === 503 ? 5 : null,
      unexpected: status >= 500,
    };
  }
  const store = storeFailure(err);
  if (store) return { status: 503, code: store, message: FIXED[store]!, retryAfterSec: store === 'disk_full' ? 60 : 5, unexpected: true };
  return { status: 500, code: 'internal', message: FIXED.internal!, retryAfterSec: null, unexpected: true };
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendText(res: ServerResponse, status: number, contentType: string, body: string | Buffer, extra: Record<string, string> = {}): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': contentType, 'content-length': Buffer.byteLength(body), ...extra });
  res.end(body);
}

export function sendError(res: ServerResponse, err: unknown): HttpError {
  const e = httpError(err);
  const headers: Record<string, string> = {};
  if (e.status === 401) headers['www-authenticate'] = 'Bearer realm="consultguard"';
  if (e.retryAfterSec !== null) headers['retry-after'] = String(Math.max(1, Math.ceil(e.retryAfterSec)));
  const text = JSON.stringify({ error: { code: e.code, message: e.message } });
  res.writeHead(e.status, { ...SECURITY_HEADERS, ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
  return e;
}

export function bearer(req: IncomingMessage): string | null {
  const h = req.headers.authorization;
  if (!h) return null;
  const m = /^Bearer\s+(\S+)$/i.exec(h);
  if (!m) throw new AppError('unauthorized', 'Authorization header must be "Bearer TOKEN"; create a token with `consultguard-server token create`');
  return m[1] ?? null;
}
