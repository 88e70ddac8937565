/**
 * The API client: JSON in and out, the session cookie (sent by the browser), the CSRF
 * header on every write, and one error type. A 401 on any call but the login itself means
 * the session ended: the app goes back to the login page and returns afterwards.
 */
import type { AckStatus, Agent, FilterValues, Page, Session, SignInOptions, Trends, Violation, ViolationDetail, RevealReply } from './types.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Seconds, from a Retry-After header (lock-out). */
    readonly retryAfter: number | null = null,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

let csrfToken: string | null = null;
let onSessionLost: () => void = () => undefined;

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

/** Called when a request answers 401 (the session expired or was ended elsewhere). */
export function onUnauthorized(fn: () => void): void {
  onSessionLost = fn;
}

interface Options {
  body?: unknown;
  signal?: AbortSignal;
  /** The login and the session probe expect 401 and handle it themselves. */
  expect401?: boolean;
}

export async function request<T>(method: 'GET' | 'POST' | 'DELETE', path: string, opts: Options = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  let res: Response;
  try {
    res = await fetch(path, {
      method, headers, credentials: 'same-origin', signal: opts.signal,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    });
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err;
    throw new ApiError(0, 'network', 'The server could not be reached. Check the connection and try again.');
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null; // not JSON (a proxy's error page): reported by status below
  }
  if (!res.ok) {
    const e = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
    const code = typeof e?.code === 'string' ? e.code : `http_${res.status}`;
    const message = typeof e?.message === 'string' ? e.message : `The server answered ${res.status}.`;
    const ra = Number(res.headers.get('retry-after'));
    const err = new ApiError(res.status, code, message, Number.isFinite(ra) && ra > 0 ? ra : null);
    if (res.status === 401 && !opts.expect401) onSessionLost();
    throw err;
  }
  return body as T;
}

/** The address of one violation: `/violations/AGENT/ID` (the page) or `/api/violations/AGENT/ID`. */
export function violationPath(agentId: string, id: string, prefix = ''): string {
  return `${prefix}/violations/${encodeURIComponent(agentId)}/${encodeURIComponent(id)}`;
}

function withQuery(path: string, q: URLSearchParams): string {
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

export const api = {
  session: (signal?: AbortSignal) => request<Session>('GET', '/api/session', { signal, expect401: true }),
  /** Like session(), but a 401 counts as "session lost". */
  checkSession: (signal?: AbortSignal) => request<Session>('GET', '/api/session', { signal }),
  login: (username: string, password: string) => request<Session>('POST', '/api/session', { body: { username, password }, expect401: true }),
  logout: () => request<void>('DELETE', '/api/session', { expect401: true }),
  /** Which ways to sign in there are (a single sign-on provider, when one is set up). */
  signInOptions: (signal?: AbortSignal) => request<SignInOptions>('GET', '/api/session/options', { signal, expect401: true }),
  violations: (q: URLSearchParams, signal?: AbortSignal) => request<Page<Violation>>('GET', withQuery('/api/violations', q), { signal }),
  // A violation is addressed by agent and id: ids are only unique per agent.
  violation: (agentId: string, id: string, signal?: AbortSignal) => request<ViolationDetail>('GET', violationPath(agentId, id, '/api'), { signal }),
  ack: (agentId: string, id: string, status: AckStatus, note: string) =>
    request<{ violation: Violation }>('POST', `${violationPath(agentId, id, '/api')}/ack`, { body: { status, note } }),
  /** The clinician's name behind the pseudonym, to this user only; audited with the reason. */
  reveal: (agentId: string, id: string, reason: string) => request<RevealReply>('POST', `${violationPath(agentId, id, '/api')}/reveal`, { body: { reason } }),
  /** A lead's decision on the clinician's exception (components/exception.ts). */
  exceptionDecision: (agentId: string, id: string, decision: 'accept' | 'reject', note: string) =>
    request<{ violation: Violation }>('POST', `${violationPath(agentId, id, '/api')}/exception`, { body: { decision, note } }),
  /** By id alone (an old link): the server redirects when one agent has it, 400 when several do. */
  violationById: (id: string, signal?: AbortSignal) => request<ViolationDetail>('GET', `/api/violations/${encodeURIComponent(id)}`, { signal }),
  agents: (signal?: AbortSignal) => request<{ items: Agent[] }>('GET', '/api/agents', { signal }),
  trends: (q: URLSearchParams, signal?: AbortSignal) => request<Trends>('GET', withQuery('/api/trends', q), { signal }),
  filters: (signal?: AbortSignal) => request<FilterValues>('GET', '/api/filters', { signal }),
  csvUrl: (q: URLSearchParams) => withQuery('/api/violations.csv', q),
};

/** A message fit for the page from any failure (never a stack trace). */
export function errorText(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  return 'Something went wrong; reload the page to try again.';
}

export function isAbort(err: unknown): boolean {
  return err instanceof DOMException && err.name === 'AbortError';
}
