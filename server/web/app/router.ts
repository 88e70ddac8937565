/**
 * Client-side routing over the History API. The server answers every page URL with the
 * same shell, so a bookmark or a reload lands on the right view. Plain <a href="/...">
 * links are intercepted, so links stay links (middle-click, copy address, keyboard).
 */
export interface Match {
  name: RouteName;
  params: Record<string, string>;
}

export type RouteName = 'login' | 'violations' | 'violation' | 'violation-by-id' | 'fleet' | 'trends' | 'report'
  | 'policies' | 'admin-secrets' | 'admin-tokens' | 'admin-users' | 'admin-agents' | 'admin-audit';

const ROUTES: Array<{ name: RouteName; re: RegExp; keys: string[] }> = [
  { name: 'login', re: /^\/login\/?$/, keys: [] },
  { name: 'violations', re: /^\/(?:violations\/?)?$/, keys: [] },
  { name: 'violation', re: /^\/violations\/([^/]+)\/([^/]+)\/?$/, keys: ['agentId', 'id'] },
  // Links from before violations were addressed by agent too: resolved when unambiguous.
  { name: 'violation-by-id', re: /^\/violations\/([^/]+)\/?$/, keys: ['id'] },
  { name: 'fleet', re: /^\/fleet\/?$/, keys: [] },
  { name: 'trends', re: /^\/trends\/?$/, keys: [] },
  { name: 'report', re: /^\/report\/?$/, keys: [] },
  { name: 'policies', re: /^\/policies\/?$/, keys: [] },
  { name: 'admin-secrets', re: /^\/admin(?:\/secrets)?\/?$/, keys: [] },
  { name: 'admin-tokens', re: /^\/admin\/tokens\/?$/, keys: [] },
  { name: 'admin-users', re: /^\/admin\/users\/?$/, keys: [] },
  { name: 'admin-agents', re: /^\/admin\/agents\/?$/, keys: [] },
  { name: 'admin-audit', re: /^\/admin\/audit\/?$/, keys: [] },
];

export function match(pathname: string): Match | null {
  for (const r of ROUTES) {
    const m = r.re.exec(pathname);
    if (!m) continue;
    const params: Record<string, string> = {};
    r.keys.forEach((k, i) => {
      try {
        params[k] = decodeURIComponent(m[i + 1] ?? '');
      } catch {
        params[k] = m[i + 1] ?? '';
      }
    });
    return { name: r.name, params };
  }
  return null;
}

let onChange: () => void = () => undefined;

export function navigate(href: string, opts: { replace?: boolean } = {}): void {
  if (opts.replace) history.replaceState(null, '', href);
  else history.pushState(null, '', href);
  onChange();
}

/** Changes the address bar's query without re-rendering (a view that already shows it). */
export function setQuery(query: URLSearchParams, opts: { push?: boolean } = {}): void {
  const s = query.toString();
  const href = `${location.pathname}${s ? `?${s}` : ''}`;
  if (href === `${location.pathname}${location.search}`) return;
  if (opts.push) history.pushState(null, '', href);
  else history.replaceState(null, '', href);
}

/** Only same-origin paths, never "//host" or "javascript:": used for ?next= after login. */
export function safeNext(next: string | null): string {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return '/violations';
  if (next.startsWith('/login')) return '/violations';
  return next;
}

export function startRouter(render: () => void): void {
  onChange = render;
  window.addEventListener('popstate', () => onChange());
  document.addEventListener('click', (ev) => {
    if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
    const a = (ev.target as Element | null)?.closest?.('a');
    if (!a || a.target || a.hasAttribute('download')) return;
    const url = new URL(a.href, location.href);
    if (url.hash && url.pathname === location.pathname && url.search === location.search) return; // in-page anchor
    if (url.origin !== location.origin || url.pathname.startsWith('/api/') || !match(url.pathname)) return;
    ev.preventDefault();
    navigate(`${url.pathname}${url.search}`);
  });
}
