/** The frame around every signed-in page: skip link, brand, main navigation, who is signed in, log out. */
import { h } from '../dom.js';
import type { RouteName } from '../router.js';
import type { User } from '../types.js';

export interface Shell {
  main: HTMLElement;
  setActive(route: RouteName): void;
  /** Where the "Violations" link goes: the last filtered list the user looked at. */
  setListHref(href: string): void;
}

const NAV: Array<{ route: RouteName; href: string; label: string; also?: RouteName[]; admin?: boolean }> = [
  { route: 'violations', href: '/violations', label: 'Violations', also: ['violation', 'violation-by-id'] },
  { route: 'fleet', href: '/fleet', label: 'Fleet' },
  { route: 'trends', href: '/trends', label: 'Trends' },
  { route: 'report', href: '/report', label: 'Report' },
  { route: 'policies', href: '/policies', label: 'Policies' },
  // Leads never see admin actions (the server refuses them too).
  { route: 'admin-secrets', href: '/admin/secrets', label: 'Admin', also: ['admin-tokens', 'admin-users', 'admin-agents', 'admin-audit'], admin: true },
];

export function createShell(root: HTMLElement, user: User, onLogout: () => void): Shell {
  const links = NAV.filter((n) => !n.admin || user.role === 'admin').map((n) => ({ n, a: h('a', { href: n.href }, n.label) }));
  const logout = h('button', { type: 'button', class: 'btn btn-quiet', onclick: onLogout }, 'Log out');
  const main = h('main', { id: 'main', tabindex: -1 });
  root.replaceChildren(
    h('a', { class: 'skip-link', href: '#main' }, 'Skip to content'),
    h('header', { class: 'topbar' },
      h('a', { class: 'brand', href: '/violations' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }, '◆'), 'ConsultGuard'),
      h('nav', { 'aria-label': 'Main' }, h('ul', null, links.map(({ a }) => h('li', null, a)))),
      h('div', { class: 'who' },
        h('span', { class: 'who-name' }, 'Signed in as ', h('strong', null, user.name), ` (${user.role})`),
        logout),
    ),
    main,
  );
  return {
    main,
    setActive(route) {
      for (const { n, a } of links) {
        if (n.route === route || n.also?.includes(route)) a.setAttribute('aria-current', 'page');
        else a.removeAttribute('aria-current');
      }
    },
    setListHref(href) {
      const first = links[0];
      if (first) first.a.setAttribute('href', href);
    },
  };
}
