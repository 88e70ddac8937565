/** API tokens (for the SIEM, scripts): create one (shown once), list, revoke (401 from its next request). */
import { errorText, isAbort } from '../api.js';
import { busy, copyBlock, field, liveStatus, select } from '../components/form.js';
import { fill, h } from '../dom.js';
import { adminApi } from './admin-api.js';
import { adminNav, adminOnly, table, when } from './admin-common.js';
import { type View } from './view.js';

export const adminTokensView: View = (ctx) => {
  ctx.title('API tokens');
  if (!adminOnly(ctx, 'API tokens')) return;
  const status = liveStatus();
  const name = h('input', { type: 'text', name: 'name', autocomplete: 'off', maxlength: 128, required: true });
  const role = select('role', [['lead', 'lead (read violations, fleet, trends)'], ['admin', 'admin (everything)']], 'lead');
  const form = h('form', { class: 'admin-form', id: 'token-form', novalidate: true },
    h('fieldset', null, h('legend', null, 'New API token'),
      field('Name', name, 'Who uses it, e.g. SIEM or backup script.'),
      field('Role', role),
      h('button', { type: 'submit', class: 'btn btn-primary' }, 'Create token')));
  const created = h('section', { class: 'once', 'aria-label': 'New token' });
  const tbody = h('tbody');
  ctx.root.append(
    adminNav('tokens'),
    h('div', { class: 'page-head' }, h('h1', { tabindex: -1 }, 'API tokens')),
    form, status.el, created,
    h('h2', null, 'Tokens'),
    table('API tokens', ['Id', 'Name', 'Role', 'Created', 'Status', 'Action'], tbody, 'tokens-table'),
  );

  async function load(): Promise<void> {
    try {
      const { items } = await adminApi.tokens(ctx.signal);
      fill(tbody, items.length === 0 ? h('tr', null, h('td', { colspan: 6 }, 'No API tokens.')) : items.map((t) => h('tr', null,
        h('th', { scope: 'row' }, h('code', null, t.id)),
        h('td', null, t.name ?? '–'),
        h('td', null, t.role),
        h('td', null, when(t.createdAt)),
        h('td', null, t.revokedAt ? h('span', { class: 'badge badge-muted' }, 'Revoked ', when(t.revokedAt)) : h('span', { class: 'badge badge-ok' }, 'Live')),
        h('td', null, t.revokedAt ? '' : h('button', { type: 'button', class: 'btn', onclick: () => void revoke(t.id, t.name) }, `Revoke token ${t.name ?? t.id}`)))));
    } catch (err) {
      if (!isAbort(err)) status.error(`Could not load the tokens: ${errorText(err)}`);
    }
  }

  async function revoke(id: string, label: string | null): Promise<void> {
    if (!confirm(`Revoke the API token ${label ?? id}? Whatever uses it gets 401 from its next request.`)) return;
    try {
      await adminApi.revokeToken(id);
      status.ok(`Token ${label ?? id} revoked: its next request is refused and its live streams end.`);
      await load();
      name.focus();
    } catch (err) {
      status.error(`Could not revoke ${label ?? id}: ${errorText(err)}`);
    }
  }

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (!name.value.trim()) {
      status.error('Give the token a name, so the audit log says who used it.');
      name.setAttribute('aria-invalid', 'true');
      name.focus();
      return;
    }
    name.removeAttribute('aria-invalid');
    void busy(form, async () => {
      try {
        const t = await adminApi.createToken(role.value, name.value.trim());
        const heading = h('h2', { tabindex: -1 }, `Token ${name.value.trim()} (${role.value}): shown once`);
        fill(created, heading, h('p', { class: 'notice' }, 'Copy it now: the server keeps only its hash. Send it as "Authorization: Bearer TOKEN".'), copyBlock('token', t.token, status, 'secret'));
        status.ok(`Token ${name.value.trim()} created. Copy it below.`);
        name.value = '';
        heading.focus();
        await load();
      } catch (err) {
        status.error(`Could not create the token: ${errorText(err)}`);
        name.focus();
      }
    });
  });
  void load();
};
