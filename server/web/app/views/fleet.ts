/**
 * The fleet: every agent, online or not, and whether it is watching. An agent that is
 * silent during consult hours (stopped, uninstalled, blocked) comes first and says so
 * in words and an icon as well as colour.
 */
import { api, errorText, isAbort } from '../api.js';
import { fill, h, icon } from '../dom.js';
import { fmtAgo, fmtDateTime } from '../format.js';
import type { Agent } from '../types.js';
import { every, pageHeading, type View } from './view.js';

const COLUMNS = ['Workstation', 'Status', 'Site', 'Group', 'Platform', 'Last seen', 'Monitoring', 'Can see', 'Approved app', 'Agent version', 'Policy version'];

/** `capabilities` of /api/agents: which evidence the machine's collectors see ('yes', 'partial', 'no'). */
type Level = 'yes' | 'partial' | 'no';
type WithCapabilities = Agent & { capabilities?: Record<string, Level> | null };
const EVIDENCE: Array<[string, string]> = [
  ['processPaths', 'process paths'], ['processUsers', 'users'], ['tcpPeers', 'TCP peers'], ['udpPeers', 'UDP peers'], ['captureDevices', 'camera/mic'],
];

/** One short line per machine: what `in-call` can rest on there ("UDP peers partial" on macOS, "camera/mic no" on Windows without its probe). */
function capabilitiesCell(a: WithCapabilities): HTMLElement {
  const c = a.capabilities;
  if (!c) return h('span', { class: 'muted' }, 'Not reported');
  const items = EVIDENCE.flatMap(([key, label], i) => {
    const level = c[key] ?? 'no';
    const mark = level === 'yes' ? '✓' : level === 'partial' ? '◐' : '✗';
    const item = h('span', { class: `cap cap-${level}`, title: `${label}: ${level}` }, icon(mark), ` ${label}${level === 'partial' ? ' (partial)' : level === 'no' ? ' (no)' : ''}`);
    return i === 0 ? [item] : [', ', item];
  });
  return h('span', { class: 'capabilities', 'aria-label': 'Evidence this machine can see' }, ...items);
}

function rank(a: Agent): number {
  if (a.silent) return 0;
  if (a.revoked) return 3;
  return a.online ? 2 : 1;
}

function statusCell(a: Agent): HTMLElement {
  if (a.silent) return h('span', { class: 'badge badge-danger' }, icon('⚠'), a.online ? 'Silent in consult hours' : 'Offline in consult hours');
  if (a.revoked) return h('span', { class: 'badge badge-muted' }, icon('⊘'), 'Revoked');
  return a.online ? h('span', { class: 'badge badge-ok' }, icon('●'), 'Online') : h('span', { class: 'badge badge-muted' }, icon('○'), 'Offline');
}

function monitoringCell(a: Agent): HTMLElement | string {
  if (a.monitoring === null) return h('span', { class: 'muted' }, 'Not reported');
  return a.monitoring ? h('span', null, icon('◉'), ' In consult hours') : h('span', { class: 'muted' }, 'Outside consult hours');
}

export const fleetView: View = (ctx) => {
  ctx.title('Fleet');
  const summary = h('p', { class: 'fleet-summary', role: 'status' }, 'Loading agents…');
  const alert = h('div', { class: 'alert-slot' });
  const tbody = h('tbody');
  const updated = h('span', { class: 'muted' });
  ctx.root.append(
    pageHeading('Fleet', updated),
    alert,
    summary,
    h('div', { class: 'table-wrap' }, h('table', { class: 'data fleet', id: 'fleet-table' },
      h('caption', { class: 'sr-only' }, 'Agents; silent ones first'),
      h('thead', null, h('tr', null, COLUMNS.map((c) => h('th', { scope: 'col' }, c)))),
      tbody)),
  );

  async function load(): Promise<void> {
    try {
      const { items } = await api.agents(ctx.signal);
      const agents = [...items].sort((a, b) => rank(a) - rank(b) || a.hostname.localeCompare(b.hostname));
      const silent = agents.filter((a) => a.silent).length;
      const online = agents.filter((a) => a.online).length;
      const monitoring = agents.filter((a) => a.online && a.monitoring).length;
      fill(summary, `${agents.length} agent${agents.length === 1 ? '' : 's'}: ${online} online, ${agents.length - online} offline, ${monitoring} watching now.`);
      fill(alert, silent > 0
        ? h('div', { class: 'notice notice-error', role: 'alert' }, icon('⚠'), ' ',
          h('strong', null, `${silent} agent${silent === 1 ? ' is' : 's are'} silent during consult hours.`),
          ' A stopped or blocked agent can hide violations; check these workstations first.')
        : null);
      fill(tbody, agents.length === 0
        ? h('tr', { class: 'empty' }, h('td', { colspan: COLUMNS.length }, 'No agents have enrolled yet.'))
        : agents.map((a) => h('tr', { class: a.silent ? 'row-silent' : a.online ? '' : 'row-offline' },
          h('th', { scope: 'row' }, a.hostname),
          h('td', null, statusCell(a)),
          h('td', null, a.site ?? '–'),
          h('td', null, a.group ?? '–'),
          h('td', null, a.platform),
          h('td', null, a.lastSeen ? h('time', { datetime: a.lastSeen, title: fmtDateTime(a.lastSeen) }, fmtAgo(a.lastSeen)) : 'never'),
          h('td', null, monitoringCell(a)),
          h('td', null, capabilitiesCell(a)),
          // Approved-app readiness (agent/readiness.ts): the word carries the meaning, the problem is the title.
          h('td', { title: a.approvedApp?.problem ?? '' }, !a.approvedApp ? '–' : a.approvedApp.ready ? 'ready' : `not ready: ${a.approvedApp.problem ?? ''}`),
          h('td', null, a.agentVersion ?? '–'),
          h('td', null, a.policyVersion ?? '–'),
        )));
      updated.textContent = `Updated ${new Date().toLocaleTimeString()}`;
    } catch (err) {
      if (isAbort(err)) return;
      fill(summary, h('span', { class: 'form-error', role: 'alert' }, `Could not load the fleet: ${errorText(err)}`));
    }
  }
  every(15_000, () => void load(), ctx.signal);
  void load();
};
