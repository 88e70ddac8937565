/**
 * The live stream of new and changed violations (Server-Sent Events, session cookie).
 * EventSource reconnects by itself after a dropped connection; after a refused one (the
 * session ended, the server restarted) it gives up, so we probe the session and retry.
 */
import { api } from './api.js';
import type { Violation } from './types.js';

export type LiveStatus = 'connecting' | 'live' | 'reconnecting';

export function subscribeViolations(
  onViolation: (v: Violation) => void,
  onStatus: (s: LiveStatus) => void,
  signal: AbortSignal,
): void {
  let es: EventSource | null = null;
  let retry: ReturnType<typeof setTimeout> | undefined;

  const open = () => {
    if (signal.aborted) return;
    onStatus('connecting');
    es = new EventSource('/api/violations/stream', { withCredentials: true });
    es.onopen = () => onStatus('live');
    es.addEventListener('violation', (ev) => {
      try {
        onViolation(JSON.parse((ev as MessageEvent<string>).data) as Violation);
      } catch {
        // A malformed frame is skipped; the next page load shows the row anyway.
      }
    });
    es.onerror = () => {
      onStatus('reconnecting');
      if (es?.readyState !== EventSource.CLOSED) return;
      es = null;
      // If the session ended, this answers 401 and the app goes to the login page.
      api.checkSession(signal).catch(() => undefined);
      retry = setTimeout(open, 5000);
    };
  };

  signal.addEventListener('abort', () => {
    clearTimeout(retry);
    es?.close();
  });
  open();
}
