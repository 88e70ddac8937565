/**
 * A dashboard's live feed (`GET /api/violations/stream`, Server-Sent Events) read the way
 * the browser reads it: every `violation` event parsed and kept, in order of arrival.
 */
export interface LiveStream {
  /** Every violation received, in order (an id may come again when the violation changes). */
  violations: Array<{ id: string; agentId: string; state: string; endedAt: string | null }>;
  /** Distinct `agentId/id` keys received. */
  keys(): Set<string>;
  close(): Promise<void>;
}

export async function openLiveStream(baseUrl: string, token: string): Promise<LiveStream> {
  const res = await fetch(`${baseUrl}/api/violations/stream`, { headers: { authorization: `Bearer ${token}` } });
  if (res.status !== 200 || !res.body) throw new Error(`live stream answered ${res.status}`);
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  const violations: LiveStream['violations'] = [];
  let buffer = '';
  let closed = false;
  const pump = (async () => {
    while (!closed) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (!frame.startsWith('event: violation\n')) continue;
        const data = frame.split('\n').find((l) => l.startsWith('data: '));
        if (data) violations.push(JSON.parse(data.slice(6)));
      }
    }
  })();
  return {
    violations,
    keys: () => new Set(violations.map((v) => `${v.agentId}/${v.id}`)),
    async close() {
      closed = true;
      await reader.cancel().catch(() => undefined);
      await pump;
    },
  };
}
