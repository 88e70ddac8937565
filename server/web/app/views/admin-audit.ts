/** The audit log (admin): filter by actor, action and date; the same filter exports as CSV. */
import type { AuditEntry } from '../../../../shared/api-types.js';
import { errorText, isAbort } from '../api.js';
import { field, liveStatus } from '../components/form.js';
import { fill, h } from '../dom.js';
import { adminApi } from './admin-api.js';
import { adminNav, adminOnly, table, when } from './admin-common.js';
import { type View } from './view.js';

export const adminAuditView: View = (ctx) => {
  ctx.title('Audit log');
  if (!adminOnly(ctx, 'Audit log')) return;
  const status = liveStatus();
  const actor = h('input', { type: 'text', name: 'actor', autocomplete: 'off' });
  const action = h('input', { type: 'text', name: 'action', autocomplete: 'off', list: 'audit-actions' });
  const actions = h('datalist', { id: 'audit-actions' });
  const since = h('input', { type: 'date', name: 'since' });
  const until = h('input', { type: 'date', name: 'until' });
  const csv = h('a', { class: 'btn', href: '/api/audit.csv', download: 'consultguard-audit.csv' }, 'Export CSV');
  const form = h('form', { class: 'admin-form', id: 'audit-form', role: 'search' },
    h('fieldset', null, h('legend', null, 'Filter'),
      field('Actor contains', actor), field('Action', action), actions, field('From', since), field('To', until),
      h('button', { type: 'submit', class: 'btn btn-primary' }, 'Filter'), csv));
  const tbody = h('tbody');
  let all: AuditEntry[] = [];
  ctx.root.append(adminNav('audit'), h('div', { class: 'page-head' }, h('h1', { tabindex: -1 }, 'Audit log')), form, status.el,
    table('Audit log, newest first', ['When', 'Actor', 'Action', 'Detail'], tbody, 'audit-table'));

  function apply(): void {
    const q = new URLSearchParams();
    if (actor.value.trim()) q.set('actor', actor.value.trim());
    if (action.value.trim()) q.set('action', action.value.trim());
    if (since.value) q.set('since', since.value);
    if (until.value) q.set('until', until.value);
    csv.setAttribute('href', `/api/audit.csv${q.size ? `?${q}` : ''}`);
    const from = since.value ? Date.parse(`${since.value}T00:00:00Z`) : -Infinity;
    const to = until.value ? Date.parse(`${until.value}T00:00:00Z`) + 86_400_000 - 1 : Infinity;
    const rows = all.filter((e) => (!q.get('actor') || e.actor.toLowerCase().includes(q.get('actor')!.toLowerCase()))
      && (!q.get('action') || e.action === q.get('action')) && Date.parse(e.at) >= from && Date.parse(e.at) <= to);
    fill(tbody, rows.length === 0 ? h('tr', null, h('td', { colspan: 4 }, 'No entries match.')) : rows.map((e) => h('tr', null,
      h('td', null, when(e.at)), h('td', null, e.actor), h('td', null, e.action), h('td', null, h('code', null, JSON.stringify(e.detail))))));
    status.ok(`${rows.length} of the latest ${all.length} entries shown.`);
  }

  async function load(): Promise<void> {
    try {
      all = (await adminApi.audit(ctx.signal)).items;
      fill(actions, [...new Set(all.map((e) => e.action))].sort().map((a) => h('option', { value: a })));
      apply();
    } catch (err) {
      if (!isAbort(err)) status.error(`Could not load the audit log: ${errorText(err)}`);
    }
  }
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    apply();
  });
  void load();
};
