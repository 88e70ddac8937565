/**
 * The server-made pages of a single sign-on: "signed in, continuing" and the refusals.
 * Plain HTML in the dashboard's own style, no script; a refusal says what happened and what
 * to do, with its error code, never exception text. The page that follows a sign-in is
 * reached by a meta refresh from this origin, not by a redirect: a redirect would still be
 * part of the provider's cross-site navigation, and the SameSite=Strict session cookie
 * would not go with it.
 */
import type { ServerResponse } from 'node:http';
import type { ErrorCode } from '../../shared/errors.js';

const HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  // The callback's URL holds the one-time code: it must not leak as a Referer.
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'content-security-policy': "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
};

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(title: string, body: string, head = ''): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} · ConsultGuard</title>
<link rel="icon" href="/assets/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/assets/app.css">
${head}</head>
<body>
<main id="main" class="login-page"><div class="login-card">
<p class="brand brand-login"><span class="brand-mark" aria-hidden="true">◆</span>ConsultGuard</p>
${body}
</div></main>
</body>
</html>
`;
}

/** Sets `cookies` and sends the browser on to `next` (a path on this server). */
export function sendSignedIn(res: ServerResponse, next: string, cookies: string[]): void {
  const html = page('Signed in', `<h1>Signed in</h1>\n<p class="muted" role="status">Continuing to the dashboard…</p>\n<p><a class="btn btn-primary btn-wide" href="${esc(next)}">Continue</a></p>`,
    `<meta http-equiv="refresh" content="0;url=${esc(next)}">\n`);
  res.writeHead(200, { ...HEADERS, 'set-cookie': cookies, 'content-length': Buffer.byteLength(html) });
  res.end(html);
}

/** A refusal or failure: the status, a heading, what to do, and the code (docs/errors.md). */
export function sendProblem(res: ServerResponse, status: number, code: ErrorCode, title: string, message: string, cookies: string[] = [], retryAfterSec: number | null = null): void {
  const html = page(title, `<h1>${esc(title)}</h1>\n<p class="form-error" role="alert">${esc(message)}</p>\n<p class="muted">Error code: <code>${code}</code></p>\n<p><a class="btn btn-primary btn-wide" href="/login">Back to sign-in</a></p>`);
  res.writeHead(status, { ...HEADERS, ...(cookies.length ? { 'set-cookie': cookies } : {}), ...(retryAfterSec !== null ? { 'retry-after': String(Math.ceil(retryAfterSec)) } : {}), 'content-length': Buffer.byteLength(html) });
  res.end(html);
}

/** A 302 to the provider, with the cookie that ties its answer to this browser. */
export function sendToProvider(res: ServerResponse, url: URL, cookie: string): void {
  res.writeHead(302, { location: url.href, 'set-cookie': cookie, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer', 'content-length': 0 });
  res.end();
}
