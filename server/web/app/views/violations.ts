/**
 * The live violations feed (the default page): filters kept in the URL, pages newest
 * first, rows added and updated from the live stream without a reload, durations of
 * ongoing violations ticking, and a CSV export of exactly what is filtered.
 */
import { appLabel } from '../components/app-names.js';
import { api, errorText, isAbort, violationPath } from '../api.js';
import { ackBadge, nudgeText, ongoingTag, stateBadge } from '../components/badges.js';
import { exceptionBadge } from '../components/exception.js';
import { h, fill, srOnly } from '../dom.js';
import { fmtDateTime, fmtDuration, fmtWhen, liveDurationSec } from '../format.js';
import { apiQuery, filtersToQuery, matchesFilters, parseFilters } from '../filters.js';
import { subscribeViolations, type LiveStatus } from '../live.js';
import { navigate, setQuery } from '../router.js';
import type { Violation } from '../types.js';
import { buildFilterForm } from './violations-filters.js';

/** Rows are keyed by agent and id: two agents may report the same violationId. */
const rowKey = (v: Violation): string => `${v.agentId}/${v.id}`;
import { every, LAST_LIST_KEY, pageHeading, type View } from './view.js';

const PAGE_SIZE = 50;
const COLUMNS = ['App', 'State', 'User', 'Workstation', 'Site', 'Started', 'Duration', 'Nudge', 'Review'];

interface Row {
  v: Violation;
  tr: HTMLTableRowElement;
  duration: HTMLElement;
}

export const violationsView: View = (ctx) => {
  ctx.title('Violations');
  let filters = parseFilters(ctx.query);
  const rows = new Map<string, Row>();
  let next: string | null = null;
  let loadCtl: AbortController | null = null;

  const liveBadge = h('span', { class: 'live-status live-connecting' });
  const announcer = h('div', { class: 'sr-only', 'aria-live': 'polite', 'aria-atomic': 'true', id: 'feed-announcer' });
  const summary = h('p', { class: 'feed-summary', role: 'status' });
  const csv = h('a', { class: 'btn', download: '', id: 'export-csv' }, 'Export CSV');
  const tbody = h('tbody');
  const more = h('button', { type: 'button', class: 'btn', hidden: true }, 'Load more');
  const table = h('table', { class: 'data feed', id: 'violations-table' },
    h('caption', { class: 'sr-only' }, 'Violations, newest first. New ones appear at the top as they happen.'),
    h('thead', null, h('tr', null, COLUMNS.map((c) => h('th', { scope: 'col' }, c)))),
    tbody,
  );

  const rememberList = () => {
    const href = `${location.pathname}${location.search}`;
    sessionStorage.setItem(LAST_LIST_KEY, href);
    ctx.shell.setListHref(href);
  };

  const form = buildFilterForm(filters, ctx.signal, (f) => {
    filters = f;
    setQuery(filtersToQuery(filters));
    rememberList();
    void reload();
  });

  ctx.root.append(
    pageHeading('Violations', liveBadge),
    form,
    h('div', { class: 'feed-bar' }, summary, h('div', { class: 'feed-actions' }, csv)),
    h('div', { class: 'table-wrap' }, table),
    h('div', { class: 'more' }, more),
    announcer,
  );
  rememberList();

  function renderRow(v: Violation, tr: HTMLTableRowElement): Row {
    const duration = h('span', null, fmtDuration(liveDurationSec(v)));
    const link = h('a', { href: violationPath(v.agentId, v.id), class: 'row-link' }, appLabel(v.app), srOnly(`, ${v.hostname}, details`));
    fill(tr,
      h('th', { scope: 'row' }, link),
      h('td', null, stateBadge(v.state)),
      // A pseudonym unless the server shows names; the name is revealed on the detail page (audited).
      h('td', v.userKind === 'pseudonym' ? { title: 'Pseudonym: open the violation to reveal the name (a reason is asked and recorded)' } : null,
        v.user ?? h('span', { class: 'muted' }, 'unknown')),
      h('td', null, v.hostname),
      h('td', null, v.site ?? h('span', { class: 'muted' }, '–')),
      h('td', null, h('time', { datetime: v.startedAt, title: fmtDateTime(v.startedAt) }, fmtWhen(v.startedAt))),
      h('td', { class: 'num' }, duration, v.endedAt ? null : [' ', ongoingTag()]),
      h('td', null, nudgeText(v)),
      h('td', null, ackBadge(v.ack), exceptionBadge(v) ? [' ', exceptionBadge(v)] : null),
    );
    tr.dataset.id = v.id;
    tr.dataset.agent = v.agentId;
    tr.classList.toggle('row-ongoing', !v.endedAt);
    return { v, tr, duration };
  }

  function makeRow(v: Violation): Row {
    const tr = h('tr');
    // Mouse convenience: the whole row opens the detail; keyboard users have the link.
    tr.addEventListener('click', (ev) => {
      if ((ev.target as Element).closest('a, button')) return;
      if (window.getSelection()?.toString()) return;
      navigate(violationPath(v.agentId, v.id));
    });
    const row = renderRow(v, tr);
    rows.set(rowKey(v), row);
    return row;
  }

  function updateSummary(): void {
    const n = rows.size;
    summary.textContent = n === 0 ? '' : `${n} violation${n === 1 ? '' : 's'} shown${next ? ' (more below)' : ''}, newest first.`;
    more.hidden = !next;
    if (n === 0 && !tbody.querySelector('.empty')) {
      fill(tbody, h('tr', { class: 'empty' }, h('td', { colspan: COLUMNS.length }, 'No violations match these filters.')));
    } else if (n > 0) tbody.querySelector('.empty')?.remove();
  }

  async function reload(): Promise<void> {
    loadCtl?.abort();
    const ctl = new AbortController();
    loadCtl = ctl;
    ctx.signal.addEventListener('abort', () => ctl.abort());
    const q = apiQuery(filters);
    csv.setAttribute('href', api.csvUrl(q));
    table.setAttribute('aria-busy', 'true');
    q.set('limit', String(PAGE_SIZE));
    try {
      const page = await api.violations(q, ctl.signal);
      rows.clear();
      tbody.replaceChildren();
      for (const v of page.items) tbody.append(makeRow(v).tr);
      next = page.next;
      updateSummary();
    } catch (err) {
      if (isAbort(err)) return;
      rows.clear();
      fill(tbody, h('tr', { class: 'empty' }, h('td', { colspan: COLUMNS.length, role: 'alert' }, `Could not load violations: ${errorText(err)}`)));
      summary.textContent = '';
    } finally {
      if (loadCtl === ctl) table.removeAttribute('aria-busy');
    }
  }

  more.addEventListener('click', () => {
    if (!next) return;
    const q = apiQuery(filters);
    q.set('limit', String(PAGE_SIZE));
    q.set('cursor', next);
    more.disabled = true;
    more.textContent = 'Loading…';
    api.violations(q, ctx.signal).then(
      (page) => {
        const firstNew = page.items.find((v) => !rows.has(rowKey(v)));
        for (const v of page.items) if (!rows.has(rowKey(v))) tbody.append(makeRow(v).tr);
        next = page.next;
        updateSummary();
        // Keep keyboard users where the new rows start.
        if (firstNew) rows.get(rowKey(firstNew))?.tr.querySelector<HTMLElement>('a')?.focus();
      },
      (err: unknown) => {
        if (!isAbort(err)) summary.textContent = `Could not load more: ${errorText(err)}`;
      },
    ).finally(() => {
      more.disabled = false;
      more.textContent = 'Load more';
    });
  });

  // New rows are announced in batches, so a burst reads as one sentence.
  let pending: Violation[] = [];
  let announceTimer: ReturnType<typeof setTimeout> | undefined;
  const announce = (v: Violation) => {
    pending.push(v);
    clearTimeout(announceTimer);
    announceTimer = setTimeout(() => {
      const last = pending[pending.length - 1];
      if (!last) return;
      const what = `${appLabel(last.app)}, ${last.state === 'in-call' ? 'in a call' : 'running'}, on ${last.hostname}${last.user ? ` (${last.user})` : ''}`;
      announcer.textContent = pending.length === 1 ? `New violation: ${what}.` : `${pending.length} new violations; latest: ${what}.`;
      pending = [];
    }, 800);
  };
  ctx.signal.addEventListener('abort', () => clearTimeout(announceTimer));

  function onLive(v: Violation): void {
    const existing = rows.get(rowKey(v));
    const fits = matchesFilters(v, filters);
    if (existing) {
      if (!fits) {
        existing.tr.remove();
        rows.delete(rowKey(v));
      } else {
        rows.set(rowKey(v), renderRow(v, existing.tr));
        flash(existing.tr, 'row-updated');
      }
      return updateSummary();
    }
    if (!fits) return;
    // Newest first: place it by start time among the loaded rows.
    const t = Date.parse(v.startedAt);
    const after = [...rows.values()].find((r) => Date.parse(r.v.startedAt) < t);
    if (!after && next) return; // it belongs on a page not loaded yet
    const row = makeRow(v);
    tbody.querySelector('.empty')?.remove();
    if (after) tbody.insertBefore(row.tr, after.tr);
    else tbody.append(row.tr);
    flash(row.tr, 'row-new');
    announce(v);
    updateSummary();
  }

  function flash(tr: HTMLElement, cls: string): void {
    tr.classList.remove('row-new', 'row-updated');
    void tr.offsetWidth; // restart the CSS animation
    tr.classList.add(cls);
  }

  const setLive = (s: LiveStatus) => {
    liveBadge.className = `live-status live-${s}`;
    fill(liveBadge, h('span', { class: 'live-dot', 'aria-hidden': 'true' }),
      s === 'live' ? 'Live: new violations appear automatically' : s === 'connecting' ? 'Connecting to live updates…' : 'Live updates interrupted; reconnecting…');
  };
  subscribeViolations(onLive, setLive, ctx.signal);

  every(1000, () => {
    const now = Date.now();
    for (const r of rows.values()) if (!r.v.endedAt) r.duration.textContent = fmtDuration(liveDurationSec(r.v, now));
  }, ctx.signal);

  void reload();
};

