/**
 * Real receivers for the alert tests: an HTTP server that records every request's raw
 * body and headers, and an SMTP server (smtp-server) that records every message. Both on
 * loopback; a port may be given so a receiver can come back where it was.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { createStore } from '../../server/store/index.js';
import { connectRaw, eventFrame, helloFrame, makeEvent } from '../support/ws-client.js';
import { TEST_SECRET } from '../support/server.js';

export interface Received { path: string; headers: Record<string, string | string[] | undefined>; raw: string; json: any }

export interface HttpReceiver { url: string; port: number; calls: Received[]; close(): Promise<void> }

export async function startReceiver(port = 0, status = 200): Promise<HttpReceiver> {
  const calls: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let json: unknown;
      try {
        json = JSON.parse(raw);
      } catch {
        json = null;
      }
      calls.push({ path: req.url ?? '/', headers: req.headers, raw, json });
      res.writeHead(status, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => ok());
  });
  const p = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${p}`, port: p, calls,
    close: () => new Promise<void>((ok) => {
      server.close(() => ok());
      server.closeAllConnections();
    }),
  };
}

/** A loopback port nothing listens on (taken and released at once). */
export async function freePort(): Promise<number> {
  const r = await startReceiver();
  await r.close();
  return r.port;
}

export interface Mail { from: string; to: string[]; raw: string }
export interface SmtpReceiver { url: string; mails: Mail[]; close(): Promise<void> }

export async function startSmtp(): Promise<SmtpReceiver> {
  const mails: Mail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    // Plain SMTP on loopback: the test has no certificate for STARTTLS to verify.
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        mails.push({ from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks).toString('utf8') });
        callback();
      });
    },
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => ok());
  });
  const port = (server.server.address() as AddressInfo).port;
  return { url: `smtp://127.0.0.1:${port}`, mails, close: () => new Promise<void>((ok) => server.close(() => ok())) };
}

/** The MIME parts of a raw message, decoded (base64 and quoted-printable), with their headers. */
export function mimeParts(raw: string): Array<{ headers: string; body: string }> {
  const boundaries = [...raw.matchAll(/boundary="?([^";\r\n]+)"?/gi)].map((m) => m[1]!);
  let parts = [raw];
  for (const b of boundaries) parts = parts.flatMap((p) => p.split(`--${b}`));
  return parts.map((p) => {
    const at = p.search(/\r?\n\r?\n/);
    const headers = at < 0 ? p : p.slice(0, at);
    let body = at < 0 ? '' : p.slice(at).trim();
    if (/content-transfer-encoding:\s*base64/i.test(headers)) body = Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
    else if (/content-transfer-encoding:\s*quoted-printable/i.test(headers)) {
      body = Buffer.from(body.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/gi, (_, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8');
    }
    return { headers, body };
  });
}

/** A decoded mail: the subject line (RFC 2047 words joined) and every part's text. */
export function decodeMail(raw: string): { subject: string; text: string; attachments: Array<{ filename: string; body: string }> } {
  const subjectRaw = /^Subject: (.*(?:\r?\n[ \t].*)*)/m.exec(raw)?.[1] ?? '';
  // RFC 2047: adjacent encoded words join without the space between them; Q words are bytes.
  const qBytes = (text: string): Buffer => Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9A-F]{2})/gi, (_m, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1');
  const subject = subjectRaw.replace(/\r?\n[ \t]/g, ' ').replace(/\?=\s+=\?/g, '?==?').replace(/=\?utf-8\?(Q|B)\?([^?]*)\?=/gi, (_, enc: string, text: string) =>
    (enc.toUpperCase() === 'B' ? Buffer.from(text, 'base64') : qBytes(text)).toString('utf8'));
  const parts = mimeParts(raw);
  const attachments = parts.filter((p) => /content-disposition:\s*attachment/i.test(p.headers)).map((p) => ({ filename: /filename="?([^";\r\n]+)/i.exec(p.headers)?.[1] ?? '', body: p.body }));
  return { subject, text: parts.map((p) => p.body).join('\n'), attachments };
}

/** An admin API token made straight in the store (the test server's own token is a lead's). */
export async function adminToken(dataDir: string): Promise<string> {
  const store = createStore(dataDir);
  try {
    return (await store.apiTokens.create('admin', 'alerts-test')).token;
  } finally {
    await store.close();
  }
}

export async function api(base: string, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${base}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** An enrolled agent that sends event batches and waits for each ack. */
export async function agent(wsUrl: string, over: Record<string, unknown> = {}) {
  const c = await connectRaw(wsUrl);
  c.send(helloFrame({ enrollSecret: TEST_SECRET, ...over }));
  const welcome = await c.next('welcome');
  let batch = 0;
  return {
    agentId: welcome.agentId as string,
    async send(events: Array<Record<string, unknown>>): Promise<void> {
      const b = ++batch;
      c.send(eventFrame(b, events));
      for (;;) {
        const m = await c.next('ack');
        if (m.batch === b) return;
      }
    },
    close: () => c.close(),
  };
}

export { makeEvent };
