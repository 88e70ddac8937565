/** Parsing and writing frames: every inbound frame is parsed and validated here, once. */
import type { WebSocket } from 'ws';
import { AppError, errorBody } from '../../shared/errors.js';
import { AgentMessage, CloseCode, type ServerMessage } from '../../shared/protocol.js';
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
  hello_timeout: CloseCode.helloTimeout,
  rate_limited: CloseCode.tooManyMessages,
};

/** Sends the coded error, then closes with the contract's close code. */
export function fail(ws: WebSocket, err: AppError): void {
  send(ws, { type: 'error', ...errorBody(err) });
  const code = CLOSE_FOR[err.code] ?? 1011;
  // Close reasons are limited to 123 bytes; the full message went in the error frame.
  if (ws.readyState === ws.OPEN) ws.close(code, err.code);
}
