/**
 * Policies (read-only: they stay files IT reviews): which policy each site and group runs,
 * its consult hours on a week grid, closures, the approved app; the pending bad edit by
 * file and line; which agents run which version. Leads and admins.
 */
import type { PolicyInfo, PolicyOverview } from '../../../../shared/api-types.js';
import { errorText, isAbort } from '../api.js';
import { fill, h } from '../dom.js';
import { adminApi } from './admin-api.js';
import { table } from './admin-common.js';
import { every, pageHeading, type View } from './view.js';

const DAYS: Array<[string, string]> = [['mon', 'Monday'], ['tue', 'Tuesday'], ['wed', 'Wednesday'], ['thu', 'Thursday'], ['fri', 'Friday'], ['sat', 'Saturday'], ['sun', 'Sunday']];
const minutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** A week grid: one row per day, 24 hour cells shaded where consult hours are, and the hours in words for screen readers. */
function weekGrid(p: PolicyInfo): HTMLElement {
  return h('table', { class: 'week-grid' },
    h('caption', null, `Consult hours (${p.timezone})`),
    h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Day'), h('th', { scope: 'col' }, 'Hours'),
      h('th', { scope: 'col', class: 'hours-bar-head', 'aria-hidden': 'true' }, '0 · 6 · 12 · 18 · 24'))),
    h('tbody', null, DAYS.map(([d, label]) => {
      const windows = p.consultHours.filter((w) => w.days.includes(d as never));
      const cells = Array.from({ length: 24 }, (_, hour) => {
        const on = windows.some((w) => minutes(w.from) < (hour + 1) * 60 && minutes(w.to) > hour * 60);
        return h('span', { class: on ? 'hour on' : 'hour' });
      });
      return h('tr', null,
        h('th', { scope: 'row' }, label),
        h('td', null, windows.length ? windows.map((w) => `${w.from}–${w.to}`).join(', ') : 'closed'),
        h('td', { class: 'hours-bar', 'aria-hidden': 'true' }, cells));
    })));
}

function policyCard(p: PolicyInfo): HTMLElement {
  const where = p.assign.sites.length || p.assign.groups.length
    ? [p.assign.sites.length ? `sites ${p.assign.sites.join(', ')}` : '', p.assign.groups.length ? `groups ${p.assign.groups.join(', ')}` : ''].filter(Boolean).join('; ')
    : '';
  return h('section', { class: 'card policy-card', 'aria-labelledby': `policy-${p.name}` },
    h('h2', { id: `policy-${p.name}` }, p.name, ' ', h('span', { class: 'muted' }, `version ${p.version}`)),
    p.description ? h('p', null, p.description) : null,
    h('dl', { class: 'facts' },
      h('dt', null, 'File'), h('dd', null, h('code', null, p.file)),
      h('dt', null, 'Runs on'), h('dd', null, [where, p.default ? 'every agent no other policy claims (default)' : ''].filter(Boolean).join('; ') || 'no agent (not assigned, not default)'),
      h('dt', null, 'Mode'), h('dd', null, p.mode),
      h('dt', null, 'Approved app'), h('dd', null, p.approved.name, ' ', h('a', { href: p.approved.url, rel: 'noopener noreferrer' }, p.approved.url)),
      h('dt', null, 'Watched apps'), h('dd', null, p.monitor === 'all' ? 'every app in the catalog' : p.monitor.join(', ')),
      h('dt', null, 'Closures'), h('dd', null, p.closures.length ? p.closures.join(', ') : 'none')),
    weekGrid(p));
}

export const policiesView: View = (ctx) => {
  ctx.title('Policies');
  const errorSlot = h('div', { class: 'alert-slot', id: 'policy-error' });
  const cards = h('div', { class: 'policy-cards' }, h('p', { role: 'status' }, 'Loading policies…'));
  const tbody = h('tbody');
  ctx.root.append(
    pageHeading('Policies'),
    h('p', null, 'Policies are files in the server\'s policies folder (reviewed and versioned by IT); this page shows what is in force. Edit the files to change them: the server checks and loads each edit.'),
    errorSlot, cards,
    h('h2', null, 'Which agents run which version'),
    table('Agents and their policy versions', ['Workstation', 'Site', 'Group', 'Policy', 'Running', 'State'], tbody, 'policy-agents'),
  );

  function show(o: PolicyOverview): void {
    fill(errorSlot, o.error
      ? h('div', { class: 'notice notice-error', role: 'alert' },
        h('strong', null, o.error.file ? `The last edit of ${o.error.file}${o.error.line ? `, line ${o.error.line},` : ''} was not loaded.` : 'The last policy edit was not loaded.'),
        ' The last good policies stay in force until it is fixed.',
        h('pre', { class: 'policy-error-text' }, o.error.message))
      : null);
    fill(cards, o.policies.map(policyCard));
    fill(tbody, o.agents.length === 0 ? h('tr', null, h('td', { colspan: 6 }, 'No agents have enrolled yet.')) : o.agents.map((a) => h('tr', null,
      h('th', { scope: 'row' }, a.hostname),
      h('td', null, a.site ?? '–'),
      h('td', null, a.group ?? '–'),
      h('td', null, `${a.policy.name} ${a.policy.version}`),
      h('td', null, a.runningVersion ?? 'not reported yet'),
      h('td', null, a.current ? h('span', { class: 'badge badge-ok' }, 'Current') : h('span', { class: 'badge badge-muted' }, a.runningVersion === null ? 'Not reported' : 'Update pending')))));
  }

  let last = '';
  async function load(): Promise<void> {
    try {
      const o = await adminApi.policies(ctx.signal);
      // Redrawn only when something changed, so a keyboard user's place on the page stays.
      const now = JSON.stringify(o);
      if (now === last) return;
      last = now;
      show(o);
    } catch (err) {
      if (!isAbort(err)) fill(cards, h('p', { class: 'form-error', role: 'alert' }, `Could not load the policies: ${errorText(err)}`));
    }
  }
  every(10_000, () => void load(), ctx.signal);
  void load();
};
