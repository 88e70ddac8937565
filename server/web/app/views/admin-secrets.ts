/**
 * Enrolment secrets per site: create one (shown once, with the exact install lines for
 * Windows, macOS/Jamf and Linux to copy), list them, revoke one. The server audits both.
 */
import { errorText, isAbort } from '../api.js';
import { busy, copyBlock, field, liveStatus } from '../components/form.js';
import { installLines } from '../components/install-lines.js';
import { fill, h } from '../dom.js';
import { adminApi } from './admin-api.js';
import { adminNav, adminOnly, table, when } from './admin-common.js';
import { type View } from './view.js';

export const adminSecretsView: View = (ctx) => {
  ctx.title('Enrolment secrets');
  if (!adminOnly(ctx, 'Enrolment secrets')) return;
  const status = liveStatus();
  const site = h('input', { type: 'text', name: 'site', autocomplete: 'off', maxlength: 128 });
  const form = h('form', { class: 'admin-form', id: 'secret-form', novalidate: true },
    h('fieldset', null, h('legend', null, 'New enrolment secret'),
      field('Site', site, 'Agents enrolled with it join this site for good (leave empty for no site).'),
      h('button', { type: 'submit', class: 'btn btn-primary' }, 'Create secret')));
  const created = h('section', { class: 'once', 'aria-label': 'New secret and install lines' });
  const tbody = h('tbody');
  let version = '0.0.0';
  ctx.root.append(
    adminNav('secrets'),
    h('div', { class: 'page-head' }, h('h1', { tabindex: -1 }, 'Enrolment secrets')),
    h('p', null, 'Each site gets its own secret: it is written into that site\'s installers, so revoking it stops new enrolments there without touching other sites. Enrolled agents keep their own tokens.'),
    form, status.el, created,
    h('h2', null, 'Secrets'),
    table('Enrolment secrets', ['Id', 'Site', 'Created', 'Status', 'Action'], tbody, 'secrets-table'),
  );

  async function load(): Promise<void> {
    try {
      const list = await adminApi.secrets(ctx.signal);
      version = list.installerVersion;
      fill(tbody, list.items.length === 0
        ? h('tr', null, h('td', { colspan: 5 }, 'No per-site secrets yet. The server\'s own secret (--enroll-secret) still enrols agents without a site.'))
        : list.items.map((s) => h('tr', null,
          h('th', { scope: 'row' }, h('code', null, s.id)),
          h('td', null, s.site ?? '(no site)'),
          h('td', null, when(s.createdAt)),
          h('td', null, s.revokedAt ? h('span', { class: 'badge badge-muted' }, 'Revoked ', when(s.revokedAt)) : h('span', { class: 'badge badge-ok' }, 'Live')),
          h('td', null, s.revokedAt ? '' : h('button', { type: 'button', class: 'btn', 'aria-label': `Revoke secret ${s.id}${s.site ? ` of site ${s.site}` : ''}`, onclick: () => void revoke(s.id, s.site) }, 'Revoke')))));
    } catch (err) {
      if (!isAbort(err)) status.error(`Could not load the secrets: ${errorText(err)}`);
    }
  }

  async function revoke(id: string, forSite: string | null): Promise<void> {
    if (!confirm(`Revoke the enrolment secret ${id}${forSite ? ` of site ${forSite}` : ''}? Installers carrying it will no longer enrol new agents.`)) return;
    try {
      await adminApi.revokeSecret(id);
      status.ok(`Secret ${id} revoked. Agents already enrolled keep working.`);
      await load();
      form.querySelector('input')?.focus();
    } catch (err) {
      status.error(`Could not revoke ${id}: ${errorText(err)}`);
    }
  }

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void busy(form, async () => {
      try {
        const s = await adminApi.createSecret(site.value.trim() || null);
        const lines = installLines({ origin: location.origin, secret: s.secret, site: s.site, version: s.installerVersion || version });
        const heading = h('h2', { tabindex: -1 }, `Secret for ${s.site ? `site ${s.site}` : 'no site'}: shown once`);
        fill(created,
          heading,
          h('p', { class: 'notice' }, 'Copy it now: the server keeps only its hash. Anyone holding it can enrol new agents', s.site ? ` into ${s.site}` : '', ', so keep it with the installers.'),
          copyBlock('secret', s.secret, status, 'secret'),
          h('h3', null, 'Windows (Intune, GPO, SCCM or an admin prompt)'),
          copyBlock('Windows install line', lines.msiexec, status),
          h('h3', null, 'macOS (Jamf Pro)'),
          h('p', null, 'Upload the pkg as a Packages payload, and a configuration profile (Application & Custom Settings, domain ', h('code', null, 'com.consultguard.agent'), ') with this property list:'),
          copyBlock('Jamf property list', lines.jamfPlist, status),
          h('p', null, 'Or by hand, after the profile is in place:'),
          copyBlock('macOS install line', lines.pkg, status),
          h('h3', null, 'Linux (deb)'),
          copyBlock('Linux install line', lines.deb, status));
        site.value = '';
        status.ok(`Secret ${s.id} created${s.site ? ` for site ${s.site}` : ''}. Copy it and the install lines below.`);
        heading.focus();
        await load();
      } catch (err) {
        status.error(`Could not create the secret: ${errorText(err)}`);
        site.focus();
      }
    });
  });
  void load();
};
