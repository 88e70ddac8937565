/** Parsing and writing frames: every inbound frame is parsed and validated here, once. */
import type { WebSocket } from 'ws';
import { AppError, errorBody } from '../../shared/errors.js';
import { AgentMessage, CloseCode, type ErrorMessage, type ServerMessage } from '../../shared/protocol.js';
import { firstIssue } from '../../shared/zod-errors.js';

export function parseFrame(data: unknown, isBinary: boolean): AgentMessage {
  if (isBinary) throw new AppError('bad_message', 'binary frames are not accepted; send one JSON object per text frame');
  const text = Buffer.isBuffer(data) ? data.toString('utf8') : Array.isArray(data) ? Buffer.concat(data as Buffer[]).toString('utf8') : String(data);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new AppError('bad_json', 'frame is not valid JSON; send one JSON object per text frame');
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new AppError('bad_message', 'frame must be a JSON object with a "type" field');
  }
  const result = AgentMessage.safeParse(json);
  if (!result.success) throw new AppError('bad_message', `invalid ${describeType(json)}: ${firstIssue(result.error).line}`);
  return result.data;
}

function describeType(json: object): string {
  const t = (json as { type?: unknown }).type;
  return typeof t === 'string' && ['hello', 'events', 'status'].includes(t) ? `"${t}" message` : 'message';
}

export function send(ws: WebSocket, msg: ServerMessage): void {
  if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(msg));
}

const CLOSE_FOR: Partial<Record<AppError['code'], number>> = {
  bad_json: CloseCode.badMessage,
  bad_message: CloseCode.badMessage,
  hello_required: CloseCode.badMessage,
  unauthorized: CloseCode.unauthorized,
  enrolment_limit: CloseCode.unauthorized,
  hello_timeout: CloseCode.helloTimeout,
  rate_limited: CloseCode.tooManyMessages,
  quota_exceeded: CloseCode.tooManyMessages,
};

/**
 * Codes that mean "the agent sent something wrong": their message is written by the
 * gateway itself (it names the field or the limit, never exception text), so it goes out
 * as is. Every other code is the server's own trouble and gets only the fixed text below,
 * whatever the error carried (a store message could name files or SQL).
 */
const AGENT_FAULT = new Set<AppError['code']>(['bad_json', 'bad_message', 'hello_required', 'hello_timeout', 'unauthorized', 'enrolment_limit', 'rate_limited', 'quota_exceeded']);
const FIXED: Partial<Record<AppError['code'], string>> = {
  store_unavailable: 'the server could not store this message right now; it will be retried',
  disk_full: 'the server could not store this message right now; it will be retried',
};
const INTERNAL = 'the server could not handle this message; it will be retried (details are in the server log)';

/** The one place an `error` frame is built: from the code, and a message we wrote. */
export function errorFrame(err: unknown, extra: { retryAfterSec?: number } = {}): ErrorMessage {
  if (err instanceof AppError && AGENT_FAULT.has(err.code)) return { type: 'error', ...errorBody(err), ...extra };
  const code = err instanceof AppError && FIXED[err.code] ? err.code : 'internal';
  return { type: 'error', code, message: FIXED[code] ?? INTERNAL, ...extra };
}

/** Sends the coded error, then closes with the contract's close code (1011 for the server's own failures). */
export function fail(ws: WebSocket, err: unknown, extra: { retryAfterSec?: number } = {}): void {
  const frame = errorFrame(err, extra);
  send(ws, frame);
  const code = (err instanceof AppError ? CLOSE_FOR[err.code] : undefined) ?? 1011;
  // Close reasons are limited to 123 bytes; the full message went in the error frame.
  if (ws.readyState === ws.OPEN) ws.close(code, frame.code);
}
