/**
 * Puts one formatted alert on the wire: an HTTPS/HTTP POST (webhook, Teams, Slack) or a
 * mail through SMTP (nodemailer). Each attempt has its own timeout; a failure is thrown as
 * a `SendError` with a short code (ECONNREFUSED, HTTP_503, TIMEOUT, NO_SMTP) that is safe to
 * store and show: never a URL (Slack and Teams URLs are credentials) or a secret.
 *
 * Same on Windows, macOS and Linux: Node's fetch and nodemailer's sockets, nothing per OS.
 */
import { createHmac } from 'node:crypto';
import { createTransport, type Transporter } from 'nodemailer';
import type { Channel } from '../store/alerts.js';
import { emailContent, slackBody, teamsBody, webhookBody } from './format.js';
import type { AlertMessage } from './message.js';

export class SendError extends Error {
  constructor(readonly code: string, options?: { cause?: unknown }) {
    super(code, options);
  }
}

export const SIGNATURE_HEADER = 'x-consultguard-signature';

/** `sha256=<hex HMAC-SHA256 of the raw body>` (CONTRACTS section 4). */
export const sign = (body: string, secret: string): string => `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;

function codeOf(err: unknown): string {
  if (err instanceof SendError) return err.code;
  const e = err as { name?: string; code?: unknown; cause?: { code?: unknown } } | null;
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return 'TIMEOUT';
  for (const c of [e?.cause?.code, e?.code]) if (typeof c === 'string' && /^[A-Z0-9_]{2,40}$/.test(c)) return c;
  return 'SEND_FAILED';
}

async function post(url: string, body: string, headers: Record<string, string>, timeoutMs: number): Promise<void> {
  let res: Response;
  try {
    // No redirects: a receiver that moved must be re-added, not followed with a signed body.
    res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json', 'user-agent': 'ConsultGuard-Alerts/1', ...headers }, redirect: 'error', signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer().catch(() => undefined);
  } catch (err) {
    throw new SendError(codeOf(err), { cause: err });
  }
  if (res.status < 200 || res.status >= 300) throw new SendError(`HTTP_${res.status}`);
}

export interface MailSettings {
  /** smtp://[user:pass@]host:port or smtps://...; undefined: email channels cannot send. */
  url?: string;
  from: string;
}

export interface Mailer {
  send(mail: { to: string; subject: string; text: string; html: string; attachments?: Array<{ filename: string; content: string; contentType: string }> }): Promise<void>;
  close(): void;
}

export function createMailer(settings: MailSettings, timeoutMs: number): Mailer {
  let transport: Transporter | null = null;
  const get = (): Transporter => {
    if (!settings.url) throw new SendError('NO_SMTP');
    // The URL's options (host, port, auth, secure) plus our timeouts: a mail server that
    // hangs must not hold a delivery slot for nodemailer's default of minutes.
    const u = new URL(settings.url);
    transport ??= createTransport({
      host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port ? Number(u.port) : u.protocol === 'smtps:' ? 465 : 25, secure: u.protocol === 'smtps:',
      ...(u.username ? { auth: { user: decodeURIComponent(u.username), pass: decodeURIComponent(u.password) } } : {}),
      connectionTimeout: timeoutMs, greetingTimeout: timeoutMs, socketTimeout: timeoutMs * 3,
    });
    return transport;
  };
  return {
    async send(mail) {
      try {
        await get().sendMail({ from: settings.from, ...mail });
      } catch (err) {
        const code = codeOf(err);
        // nodemailer's own codes: ECONNECTION, EAUTH, EENVELOPE, ETIMEDOUT...
        throw new SendError(code === 'SEND_FAILED' ? 'SMTP_FAILED' : code, { cause: err });
      }
    },
    close() {
      transport?.close();
      transport = null;
    },
  };
}

export interface Sender {
  send(channel: Channel, m: AlertMessage): Promise<void>;
}

/** Formats and sends one alert on one channel; throws SendError. */
export function createSender(mailer: Mailer, timeoutMs: number): Sender {
  return {
    async send(channel, m) {
      switch (channel.kind) {
        case 'webhook': {
          const body = webhookBody(m);
          const headers: Record<string, string> = { 'x-consultguard-alert': m.alertId };
          if (channel.secret) headers[SIGNATURE_HEADER] = sign(body, channel.secret);
          return post(channel.target, body, headers, timeoutMs);
        }
        case 'teams':
          return post(channel.target, teamsBody(m), {}, timeoutMs);
        case 'slack':
          return post(channel.target, slackBody(m), {}, timeoutMs);
        case 'email':
          return mailer.send({ to: channel.target, ...emailContent(m) });
      }
    },
  };
}

export { codeOf as sendErrorCode };
