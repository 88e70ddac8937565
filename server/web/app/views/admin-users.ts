/** Dashboard users: add (or replace with a new role and password), reset a password, disable. */
import { errorText, isAbort } from '../api.js';
import { busy, field, liveStatus, select, type Status } from '../components/form.js';
import { fill, h } from '../dom.js';
import { adminApi } from './admin-api.js';
import { adminNav, adminOnly, table, when } from './admin-common.js';
import { type View } from './view.js';

function passwordInput(name: string): HTMLInputElement {
  return h('input', { type: 'password', name, autocomplete: 'new-password', minlength: 12, required: true });
}

export const adminUsersView: View = (ctx) => {
  ctx.title('Users');
  if (!adminOnly(ctx, 'Users')) return;
  const status = liveStatus();
  const name = h('input', { type: 'text', name: 'name', autocomplete: 'off', maxlength: 64, required: true });
  const role = select('role', [['lead', 'lead'], ['admin', 'admin']], 'lead');
  const password = passwordInput('password');
  const addForm = h('form', { class: 'admin-form', id: 'user-form', novalidate: true },
    h('fieldset', null, h('legend', null, 'Add a user, or change one\'s role'),
      field('User name', name, 'Letters, digits, . _ @ - ; an existing name gets the new role and password.'),
      field('Role', role),
      field('Password', password, 'At least 12 characters. Give it to the person out of band.'),
      h('button', { type: 'submit', class: 'btn btn-primary' }, 'Save user')));
  const who = select('user', []);
  const newPassword = passwordInput('new-password');
  const resetForm = h('form', { class: 'admin-form', id: 'reset-form', novalidate: true },
    h('fieldset', null, h('legend', null, 'Reset a password'),
      field('User', who),
      field('New password', newPassword, 'Their open sessions end.'),
      h('button', { type: 'submit', class: 'btn' }, 'Reset password')));
  const tbody = h('tbody');
  ctx.root.append(adminNav('users'), h('div', { class: 'page-head' }, h('h1', { tabindex: -1 }, 'Users')),
    h('div', { class: 'admin-forms' }, addForm, resetForm), status.el,
    h('h2', null, 'Users'), table('Dashboard users', ['Name', 'Role', 'Created', 'Status', 'Action'], tbody, 'users-table'));

  async function load(): Promise<void> {
    try {
      const { items } = await adminApi.users(ctx.signal);
      // Single sign-on users (sso:NAME) have no password here: their role comes from the provider's groups.
      const sso = (n: string) => n.toLowerCase().startsWith('sso:');
      fill(who, items.filter((u) => !u.disabledAt && !sso(u.name)).map((u) => h('option', { value: u.name }, u.name)));
      fill(tbody, items.map((u) => h('tr', null,
        h('th', { scope: 'row' }, u.name), h('td', null, sso(u.name) ? `${u.role} (single sign-on)` : u.role), h('td', null, when(u.createdAt)),
        h('td', null, u.disabledAt ? h('span', { class: 'badge badge-muted' }, 'Disabled ', when(u.disabledAt)) : h('span', { class: 'badge badge-ok' }, 'Active')),
        h('td', null, u.disabledAt || u.name === ctx.user.name ? '' : h('button', { type: 'button', class: 'btn', onclick: () => void disable(u.name) }, `Disable ${u.name}`)))));
    } catch (err) {
      if (!isAbort(err)) status.error(`Could not load the users: ${errorText(err)}`);
    }
  }

  async function disable(user: string): Promise<void> {
    if (!confirm(`Disable ${user}? They are signed out at once and cannot sign in (adding them again re-enables them).`)) return;
    try {
      await adminApi.disableUser(user);
      status.ok(`${user} is disabled and signed out.`);
      await load();
      name.focus();
    } catch (err) {
      status.error(`Could not disable ${user}: ${errorText(err)}`);
    }
  }

  const submit = (form: HTMLFormElement, first: HTMLElement, work: () => Promise<string>, s: Status) => form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void busy(form, async () => {
      try {
        s.ok(await work());
        form.reset();
        await load();
      } catch (err) {
        s.error(errorText(err));
      }
    }).then(() => first.focus());
  });
  submit(addForm, name, async () => {
    await adminApi.saveUser(name.value.trim(), role.value, password.value);
    return `User ${name.value.trim()} saved as ${role.value}.`;
  }, status);
  submit(resetForm, who, async () => {
    await adminApi.resetUser(who.value, newPassword.value);
    return `Password of ${who.value} reset; their sessions ended.`;
  }, status);
  void load();
};
