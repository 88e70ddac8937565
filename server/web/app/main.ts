/**
 * The dashboard's entry point: finds out who is signed in, then shows the page the URL
 * names inside the shell. Without a session every page goes to /login and comes back
 * afterwards (?next=).
 */
import { api, ApiError, errorText, onUnauthorized, setCsrfToken } from './api.js';
import { loadAppNames } from './components/app-names.js';
import { createShell, type Shell } from './components/shell.js';
import { h } from './dom.js';
import { match, navigate, safeNext, startRouter, type RouteName } from './router.js';
import type { Session } from './types.js';
import { adminAgentsView } from './views/admin-agents.js';
import { adminAuditView } from './views/admin-audit.js';
import { adminSecretsView } from './views/admin-secrets.js';
import { adminTokensView } from './views/admin-tokens.js';
import { adminUsersView } from './views/admin-users.js';
import { detailByIdView, detailView } from './views/detail.js';
import { fleetView } from './views/fleet.js';
import { loginView } from './views/login.js';
import { policiesView } from './views/policies.js';
import { reportView } from './views/report.js';
import { trendsView } from './views/trends.js';
import { pageHeading, type View } from './views/view.js';
import { violationsView } from './views/violations.js';

const VIEWS: Record<Exclude<RouteName, 'login'>, View> = {
  violations: violationsView,
  violation: detailView,
  'violation-by-id': detailByIdView,
  fleet: fleetView,
  trends: trendsView,
  report: reportView,
  policies: policiesView,
  'admin-secrets': adminSecretsView,
  'admin-tokens': adminTokensView,
  'admin-users': adminUsersView,
  'admin-agents': adminAgentsView,
  'admin-audit': adminAuditView,
};

const root = document.getElementById('app') ?? document.body;
let session: Session | null = null;
let shell: Shell | null = null;
let current: AbortController | null = null;
let firstRender = true;
/** One-shot message for the login page ("you signed out", "session ended"). */
let loginNotice: string | null = null;

function here(): string {
  return `${location.pathname}${location.search}`;
}

function toLogin(notice: string | null): void {
  session = null;
  shell = null;
  setCsrfToken(null);
  loginNotice = notice;
  const next = location.pathname.startsWith('/login') ? '' : `?next=${encodeURIComponent(here())}`;
  navigate(`/login${next}`, { replace: true });
}

onUnauthorized(() => {
  if (session) toLogin('Your session has ended. Sign in again to continue.');
});

async function logout(): Promise<void> {
  try {
    await api.logout();
  } catch {
    // Already signed out on the server, or it is unreachable: leave anyway.
  }
  session = null;
  shell = null;
  setCsrfToken(null);
  loginNotice = 'You have signed out.';
  navigate('/login', { replace: false });
}

function setTitle(text: string): void {
  document.title = `${text} · ConsultGuard`;
}

async function render(): Promise<void> {
  current?.abort();
  const ctl = new AbortController();
  current = ctl;
  const route = match(location.pathname);
  const query = new URLSearchParams(location.search);

  if (route?.name === 'login') {
    shell = null;
    if (!session && !loginNotice) {
      // Already signed in (a bookmark of /login, a second tab)? Then go straight on.
      session = await api.session(ctl.signal).catch(() => null);
      if (ctl.signal.aborted) return;
    }
    if (session) {
      setCsrfToken(session.csrfToken);
      return navigate(safeNext(query.get('next')), { replace: true });
    }
    const notice = loginNotice;
    loginNotice = null;
    loginView(root, {
      notice,
      next: safeNext(query.get('next')),
      signal: ctl.signal,
      onSignedIn: (s) => {
        session = s;
        setCsrfToken(s.csrfToken);
        navigate(safeNext(query.get('next')), { replace: true });
      },
    });
    setTitle('Sign in');
    return;
  }

  if (!session) {
    try {
      const s = await api.session(ctl.signal);
      session = s;
      setCsrfToken(s.csrfToken);
    } catch (err) {
      if (ctl.signal.aborted) return;
      if (err instanceof ApiError && err.status === 401) return toLogin(null);
      root.replaceChildren(h('main', { id: 'main', class: 'boot-error' }, h('h1', null, 'ConsultGuard'), h('p', { role: 'alert' }, errorText(err))));
      return;
    }
    if (ctl.signal.aborted) return;
  }

  // Display names before the first page that shows apps (a failure leaves ids).
  await loadAppNames(ctl.signal);
  if (ctl.signal.aborted) return;
  if (!shell) shell = createShell(root, session.user, () => void logout());
  const main = shell.main;
  main.replaceChildren();
  if (!route) {
    shell.setActive('violations');
    main.append(pageHeading('Page not found'), h('p', null, 'There is no page at this address. ', h('a', { href: '/violations' }, 'Go to the violations feed'), '.'));
    setTitle('Not found');
  } else {
    shell.setActive(route.name);
    VIEWS[route.name]({ root: main, params: route.params, query, user: session.user, shell, signal: ctl.signal, title: setTitle });
  }
  // Move focus to the new page's heading so keyboard and screen-reader users start there.
  if (!firstRender) main.querySelector<HTMLElement>('h1')?.focus();
  else window.scrollTo(0, 0);
  firstRender = false;
}

startRouter(() => void render());
void render();
