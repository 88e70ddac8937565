/** HTTP plumbing: JSON replies and the one error shape `{ error: { code, message } }`. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppError, errorBody, type ErrorCode } from '../../shared/errors.js';

const STATUS: Partial<Record<ErrorCode, number>> = {
  bad_request: 400,
  bad_option: 400,
  unauthorized: 401,
  forbidden: 403,
  csrf: 403,
  not_found: 404,
  rate_limited: 429,
  store_unavailable: 503,
};

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendText(res: ServerResponse, status: number, contentType: string, body: string | Buffer, extra: Record<string, string> = {}): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': contentType, 'content-length': Buffer.byteLength(body), ...extra });
  res.end(body);
}

export function sendError(res: ServerResponse, err: AppError): void {
  const status = STATUS[err.code] ?? 500;
  const headers: Record<string, string> = {};
  if (status === 401) headers['www-authenticate'] = 'Bearer realm="consultguard"';
  // The only HTTP 429 is the login lock-out, which lasts 15 minutes at most.
  if (status === 429) headers['retry-after'] = '900';
  const text = JSON.stringify({ error: errorBody(err) });
  res.writeHead(status, { ...SECURITY_HEADERS, ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function bearer(req: IncomingMessage): string | null {
  const h = req.headers.authorization;
  if (!h) return null;
  const m = /^Bearer\s+(\S+)$/i.exec(h);
  if (!m) throw new AppError('unauthorized', 'Authorization header must be "Bearer TOKEN"; create a token with `consultguard-server token create`');
  return m[1] ?? null;
}
