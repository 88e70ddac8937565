/**
 * Agents (admin): move one to a site (pinned) and group, revoke it (disconnected, refused
 * until forgotten), forget a revoked one (so it may enrol again). The fleet page shows the
 * same agents read-only to leads.
 */
import { api, errorText, isAbort } from '../api.js';
import { busy, field, liveStatus, select } from '../components/form.js';
import { fill, h } from '../dom.js';
import type { Agent } from '../types.js';
import { adminApi } from './admin-api.js';
import { adminNav, adminOnly, table, when } from './admin-common.js';
import { type View } from './view.js';

export const adminAgentsView: View = (ctx) => {
  ctx.title('Agents');
  if (!adminOnly(ctx, 'Agents')) return;
  const status = liveStatus();
  const agent = select('agent', []);
  const site = h('input', { type: 'text', name: 'site', autocomplete: 'off', maxlength: 128 });
  const group = h('input', { type: 'text', name: 'group', autocomplete: 'off', maxlength: 128 });
  const form = h('form', { class: 'admin-form', id: 'assign-form', novalidate: true },
    h('fieldset', null, h('legend', null, 'Move an agent'),
      field('Agent', agent), field('Site', site, 'Pinned: the agent\'s own --site no longer changes it. Empty: no site.'), field('Group', group),
      h('button', { type: 'submit', class: 'btn btn-primary' }, 'Move agent')));
  const tbody = h('tbody');
  let agents: Agent[] = [];
  ctx.root.append(adminNav('agents'), h('div', { class: 'page-head' }, h('h1', { tabindex: -1 }, 'Agents')), form, status.el,
    h('h2', null, 'Agents'), table('Enrolled agents', ['Workstation', 'Site', 'Group', 'Status', 'Last seen', 'Actions'], tbody, 'agents-table'));

  const label = (a: Agent) => `${a.hostname} (${a.agentId.slice(0, 8)})`;
  async function load(): Promise<void> {
    try {
      agents = (await api.agents(ctx.signal)).items;
      const keep = agent.value;
      fill(agent, agents.filter((a) => !a.revoked).map((a) => h('option', { value: a.agentId }, label(a))));
      if (keep) agent.value = keep;
      fill(tbody, agents.length === 0 ? h('tr', null, h('td', { colspan: 6 }, 'No agents have enrolled yet.')) : agents.map((a) => h('tr', null,
        h('th', { scope: 'row' }, label(a)), h('td', null, a.site ?? '–'), h('td', null, a.group ?? '–'),
        h('td', null, a.revoked ? 'revoked' : a.online ? 'online' : 'offline'), h('td', null, when(a.lastSeen)),
        h('td', { class: 'actions' },
          a.revoked ? null : h('button', { type: 'button', class: 'btn', onclick: () => void act(a, 'revoke') }, `Revoke ${a.hostname}`),
          a.revoked ? h('button', { type: 'button', class: 'btn', onclick: () => void act(a, 'forget') }, `Forget ${a.hostname}`) : null))));
    } catch (err) {
      if (!isAbort(err)) status.error(`Could not load the agents: ${errorText(err)}`);
    }
  }

  async function act(a: Agent, what: 'revoke' | 'forget'): Promise<void> {
    const q = what === 'revoke'
      ? `Revoke ${label(a)}? It is disconnected now and refused until an administrator forgets it.`
      : `Forget ${label(a)}? It may then enrol again with an enrolment secret; its violations stay.`;
    if (!confirm(q)) return;
    try {
      await (what === 'revoke' ? adminApi.revokeAgent(a.agentId) : adminApi.forgetAgent(a.agentId));
      status.ok(what === 'revoke' ? `${label(a)} revoked and disconnected.` : `${label(a)} forgotten; it may enrol again.`);
      await load();
      agent.focus();
    } catch (err) {
      status.error(`Could not ${what} ${label(a)}: ${errorText(err)}`);
    }
  }

  agent.addEventListener('change', () => {
    const a = agents.find((x) => x.agentId === agent.value);
    site.value = a?.site ?? '';
    group.value = a?.group ?? '';
  });
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (!agent.value) return status.error('No agent to move.');
    void busy(form, async () => {
      try {
        const r = await adminApi.assignAgent(agent.value, site.value.trim() || null, group.value.trim() || null);
        status.ok(`Moved to site ${r.site ?? '(none)'}, group ${r.group ?? '(none)'}; it runs policy ${r.policy.name} ${r.policy.version}.`);
        await load();
      } catch (err) {
        status.error(`Could not move the agent: ${errorText(err)}`);
      }
    }).then(() => agent.focus());
  });
  void load();
};
