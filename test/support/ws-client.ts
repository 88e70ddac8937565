/** A raw protocol client for gateway tests: send frames, read replies and the close code. */
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';

export interface RawClient {
  ws: WebSocket;
  messages: any[];
  closed: Promise<{ code: number; reason: string }>;
  send(obj: unknown): void;
  next(type?: string): Promise<any>;
  close(): void;
}

export async function connectRaw(url: string): Promise<RawClient> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  const messages: any[] = [];
  const waiters: Array<() => void> = [];
  ws.on('message', (d) => {
    messages.push(JSON.parse(d.toString()));
    for (const w of waiters.splice(0)) w();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  ws.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  let read = 0;
  return {
    ws,
    messages,
    closed,
    send: (obj) => ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj)),
    async next(type) {
      for (;;) {
        while (read < messages.length) {
          const m = messages[read++];
          if (!type || m.type === type) return m;
        }
        await new Promise<void>((resolve, reject) => {
          waiters.push(resolve);
          setTimeout(() => reject(new Error(`no ${type ?? 'message'} within 5 s; got types ${JSON.stringify(messages.map((m) => m.type))}, last ${JSON.stringify(messages.at(-1)).slice(0, 300)}`)), 5000).unref();
        });
      }
    },
    close: () => ws.close(),
  };
}

export function helloFrame(over: Record<string, unknown> = {}) {
  return {
    type: 'hello', protocol: 1, agentId: randomUUID(),
    host: { hostname: 'TEST-PC', platform: 'win32', osVersion: '10.0.22631', agentVersion: '0.1.0' },
    ...over,
  };
}

export function eventFrame(batch: number, events: Array<Record<string, unknown>>) {
  return { type: 'events', batch, events };
}

export function makeEvent(over: Record<string, unknown> = {}) {
  return {
    id: randomUUID(), violationId: randomUUID(), kind: 'started', app: 'zoom', state: 'running', via: 'process',
    user: 'CLINIC\\dr.lee', pids: [4120], evidence: ['process Zoom.exe'], at: new Date().toISOString(), ...over,
  };
}
