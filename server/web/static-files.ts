/** Serves the built dashboard (build/web) with strict headers; nothing from a CDN. */
import { existsSync, readFileSync } from 'node:fs';
import { join, normalize } from 'node:path';
import { AppError } from '../../shared/errors.js';
import { packageRoot } from '../../shared/paths.js';
import { sendText } from '../api/http.js';
import type { Route } from '../api/router.js';

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.map': 'application/json',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon', '.woff2': 'font/woff2',
};

export const PAGE_HEADERS = {
  'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-frame-options': 'DENY',
};

export function staticRoutes(): Route[] {
  const dir = join(packageRoot(), 'build', 'web');
  const cache = new Map<string, Buffer>();
  const read = (file: string): Buffer => {
    let b = cache.get(file);
    if (!b) {
      if (!existsSync(file)) throw new AppError('not_found', 'no such page or asset; if this is a fresh checkout, run npm run build');
      b = readFileSync(file);
      cache.set(file, b);
    }
    return b;
  };
  const page = (): Route['handle'] => ({ res }) => sendText(res, 200, 'text/html; charset=utf-8', read(join(dir, 'index.html')), PAGE_HEADERS);
  return [
    // The app routes client-side; each entry URL serves the same shell.
    ...['/', '/login', '/violations', '/fleet', '/trends', '/report', '/violations/:id', '/violations/:agentId/:id', '/policies', '/admin', '/admin/:page'].map((path): Route => ({ method: 'GET', path, roles: null, handle: page() })),
    {
      method: 'GET', path: '/assets/:file', roles: null,
      handle: ({ res, params }) => {
        const name = normalize(params.file!);
        const ext = name.slice(name.lastIndexOf('.'));
        if (name.includes('/') || name.includes('\\') || !TYPES[ext]) throw new AppError('not_found', `no asset ${params.file}`);
        sendText(res, 200, TYPES[ext]!, read(join(dir, 'assets', name)), { 'cache-control': 'no-cache' });
      },
    },
  ];
}
