/** What the admin screens share: their sub-navigation, the admin-only guard, dates. */
import { h } from '../dom.js';
import { fmtDateTime } from '../format.js';
import type { ViewCtx } from './view.js';

const PAGES: Array<[string, string]> = [
  ['secrets', 'Enrolment secrets'],
  ['tokens', 'API tokens'],
  ['users', 'Users'],
  ['agents', 'Agents'],
  ['audit', 'Audit log'],
];

export function adminNav(active: string): HTMLElement {
  return h('nav', { class: 'subnav', 'aria-label': 'Administration' }, h('ul', null, PAGES.map(([page, label]) =>
    h('li', null, h('a', { href: `/admin/${page}`, 'aria-current': page === active ? 'page' : null }, label)))));
}

/** Leads never see admin actions: the server refuses them anyway (403); the page says why. */
export function adminOnly(ctx: ViewCtx, heading: string): boolean {
  if (ctx.user.role === 'admin') return true;
  ctx.root.append(h('div', { class: 'page-head' }, h('h1', { tabindex: -1 }, heading)),
    h('p', { class: 'notice' }, 'This page is for administrators. Ask an administrator for changes; the ', h('a', { href: '/fleet' }, 'fleet'), ' and ', h('a', { href: '/policies' }, 'policies'), ' pages show what is in force.'));
  return false;
}

export const when = (iso: string | null): HTMLElement | string => (iso ? h('time', { datetime: iso }, fmtDateTime(iso)) : '–');

export function table(caption: string, columns: string[], body: HTMLTableSectionElement, id?: string): HTMLElement {
  return h('div', { class: 'table-wrap' }, h('table', { class: 'data', id },
    h('caption', { class: 'sr-only' }, caption),
    h('thead', null, h('tr', null, columns.map((c) => h('th', { scope: 'col' }, c)))),
    body));
}
