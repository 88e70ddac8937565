/**
 * One violation: what was seen (evidence), what happened when (timeline, oldest first),
 * and the review: acknowledge or resolve it with a note that stays in the audit trail.
 */
import { appLabel } from '../components/app-names.js';
import { api, ApiError, errorText, isAbort, violationPath } from '../api.js';
import { ackBadge, nudgeText, ongoingTag, stateBadge } from '../components/badges.js';
import { exceptionPanel } from '../components/exception.js';
import { markInvalid, sendForm } from '../components/form.js';
import { fill, h, nextId } from '../dom.js';
import { fmtDateTime, fmtDuration, fmtFull, liveDurationSec, stateLabel, TIMELINE_LABELS } from '../format.js';
import { subscribeViolations } from '../live.js';
import { navigate } from '../router.js';
import type { AckStatus, TimelineEntry, Violation, ViolationDetail } from '../types.js';
import { clinicianFact, type Revealed } from './detail-reveal.js';
import { every, errorBox, LAST_LIST_KEY, loadingText, pageHeading, type View } from './view.js';

function facts(v: Violation, durationEl: HTMLElement, clinician: HTMLElement): HTMLElement {
  const row = (term: string, ...def: Array<Node | string>) => [h('dt', null, term), h('dd', null, ...def)];
  return h('dl', { class: 'facts' },
    row('State', stateBadge(v.state)),
    row('Review', ackBadge(v.ack)),
    row('User', clinician),
    row('Workstation', v.hostname),
    row('Site', v.site ?? '–'),
    row('Started', fmtFull(v.startedAt)),
    row('Ended', v.endedAt ? fmtFull(v.endedAt) : ongoingTag()),
    row('Duration', durationEl),
    row('Detected via', v.via),
    row('Nudge', nudgeText(v)),
    row('Agent id', h('code', null, v.agentId)),
    row('Violation id', h('code', null, v.id)),
  );
}

function timelineItem(e: TimelineEntry): HTMLElement {
  const kindClass = e.kind === 'resolved' || e.kind === 'acknowledged' ? 'tl-review' : e.kind.startsWith('nudge') || e.kind === 'app-closed' ? 'tl-nudge' : `tl-${e.kind}`;
  return h('li', { class: `tl-item ${kindClass}` },
    h('time', { datetime: e.at }, fmtFull(e.at)),
    h('div', { class: 'tl-body' },
      h('strong', null, TIMELINE_LABELS[e.kind] ?? e.kind),
      e.state ? [' ', h('span', { class: 'muted' }, `(${stateLabel(e.state).toLowerCase()})`)] : null,
      e.by ? [' by ', h('span', { class: 'tl-by' }, e.by)] : null,
      e.note ? h('blockquote', { class: 'tl-note' }, e.note) : null,
      e.evidence?.length ? h('ul', { class: 'evidence evidence-small' }, e.evidence.map((x) => h('li', null, h('code', null, x)))) : null,
    ));
}

function ackForm(v: Violation, onDone: (v: Violation, status: AckStatus) => void): HTMLElement {
  const noteId = nextId('ack-note');
  const msg = h('p', { class: 'form-msg', role: 'status', 'aria-live': 'polite' });
  const status = v.ack?.status ?? null;
  const radio = (value: AckStatus, label: string, hint: string) => {
    const id = nextId(`ack-${value}`);
    return h('div', { class: 'radio' },
      h('input', { type: 'radio', name: 'ack-status', id, value, checked: value === (status ? 'resolved' : 'acknowledged') }),
      h('label', { for: id }, h('strong', null, label), h('span', { class: 'muted' }, ` — ${hint}`)));
  };
  const note = h('textarea', { id: noteId, name: 'note', rows: 3, maxlength: 2000, required: true, 'aria-describedby': `${noteId}-hint` });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Save review');
  const form = h('form', { class: 'ack-form', novalidate: true },
    h('fieldset', null,
      h('legend', null, status ? 'Update the review' : 'Review this violation'),
      radio('acknowledged', 'Acknowledge', 'seen, follow-up under way'),
      radio('resolved', 'Resolve', 'dealt with, no further action'),
    ),
    h('div', { class: 'field' },
      h('label', { for: noteId }, 'Note'),
      h('p', { class: 'hint', id: `${noteId}-hint` }, 'Required. Kept in the audit trail with your name and the time.'),
      note),
    h('div', { class: 'form-row' }, submit, msg),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const chosen = form.querySelector<HTMLInputElement>('input[name="ack-status"]:checked')?.value as AckStatus | undefined;
    if (!chosen) return void (msg.textContent = 'Choose Acknowledge or Resolve.');
    if (!note.value.trim()) return markInvalid(msg, note, 'Write a note: what was done, or why no action is needed.');
    sendForm(submit, msg, 'Saving…', 'Could not save', () => api.ack(v.agentId, v.id, chosen, note.value.trim()), (r) => onDone(r.violation, chosen));
  });
  return form;
}

/** An old `/violations/ID` link: on to `/violations/AGENT/ID` when only one agent has that id. */
export const detailByIdView: View = (ctx) => {
  const id = ctx.params.id ?? '';
  ctx.title('Violation');
  const heading = pageHeading('Violation');
  const body = h('div', { class: 'detail' }, loadingText('the violation'));
  ctx.root.append(h('p', { class: 'crumbs' }, h('a', { href: '/violations' }, '← All violations')), heading, body);
  api.violationById(id, ctx.signal).then(
    (d) => navigate(violationPath(d.violation.agentId, id), { replace: true }),
    (err: unknown) => {
      if (isAbort(err)) return;
      if (err instanceof ApiError && err.status === 404) {
        fill(heading.querySelector('h1') ?? heading, 'Violation not found');
        return fill(body, h('p', null, 'There is no violation with this id. It may have been removed by the retention policy.'));
      }
      if (err instanceof ApiError && err.status === 400) {
        return fill(body, h('p', null, 'More than one workstation reported a violation with this id. Find the one you want in the ', h('a', { href: '/violations' }, 'violations feed'), '.'));
      }
      fill(body, errorBox(`Could not load the violation: ${errorText(err)}`));
    },
  );
};

export const detailView: View = (ctx) => {
  const id = ctx.params.id ?? '';
  const agentId = ctx.params.agentId ?? '';
  ctx.title('Violation');
  const back = sessionStorage.getItem(LAST_LIST_KEY) ?? '/violations';
  const heading = pageHeading('Violation');
  const body = h('div', { class: 'detail' }, loadingText('the violation'));
  const saved = h('p', { class: 'notice notice-ok', role: 'status', hidden: true });
  ctx.root.append(
    h('p', { class: 'crumbs' }, h('a', { href: back.startsWith('/') ? back : '/violations' }, '← All violations')),
    heading, saved, body,
  );
  let current: ViolationDetail | null = null;
  let durationEl: HTMLElement | null = null;
  // A revealed name lives in this view only: gone when the page is left or reloaded.
  let revealed: Revealed | null = null;

  const reviewForm = (v: Violation): HTMLElement => {
    const form = ackForm(v, (_updated, status) => {
      saved.hidden = false;
      saved.textContent = status === 'resolved' ? 'Saved: marked as resolved.' : 'Saved: marked as acknowledged.';
      void load(false);
    });
    // Once resolved, the form steps back: changing it is the exception.
    return v.ack?.status === 'resolved' ? h('details', { class: 'ack-more' }, h('summary', null, 'Change the status or add a note'), form) : form;
  };

  const render = (d: ViolationDetail, keepForm: boolean) => {
    current = d;
    const v = d.violation;
    ctx.title(`${appLabel(v.app)} on ${v.hostname}`);
    fill(heading.querySelector('h1') ?? heading, `${appLabel(v.app)} on ${v.hostname}`);
    durationEl = h('span', null, fmtDuration(liveDurationSec(v)));
    const oldForm = keepForm ? body.querySelector('.ack-panel') : null;
    const print = h('button', { type: 'button', class: 'btn', onclick: () => window.print() }, 'Print evidence');
    fill(body,
      h('p', { class: 'print-only muted' }, `ConsultGuard evidence record, printed ${fmtFull(new Date().toISOString())} by ${ctx.user.name}.`),
      h('div', { class: 'detail-grid' },
        h('div', { class: 'detail-col' },
          h('section', { class: 'panel', 'aria-labelledby': 'sec-facts' }, h('h2', { id: 'sec-facts' }, 'Summary'), facts(v, durationEl, clinicianFact(v, revealed, (r) => {
            revealed = { key: `${v.agentId}/${v.id}`, reply: r };
            // The timeline gains the reveal; the name stays in place and takes the focus.
            void load(true).then(() => body.querySelector<HTMLElement>('#revealed-name')?.focus());
          }))),
          exceptionPanel(v, () => void load(true)),
          oldForm ?? h('section', { class: 'panel ack-panel no-print', 'aria-labelledby': 'sec-review' },
            h('h2', { id: 'sec-review' }, 'Review'),
            v.ack ? h('p', { class: 'ack-current' }, ackBadge(v.ack), ` by ${v.ack.by}, ${fmtDateTime(v.ack.at)}`) : h('p', { class: 'muted' }, 'Nobody has reviewed this violation yet.'),
            reviewForm(v))),
        h('div', { class: 'detail-col' },
          h('section', { class: 'panel', 'aria-labelledby': 'sec-evidence' },
            h('h2', { id: 'sec-evidence' }, 'Evidence'),
            v.evidence.length
              ? h('ul', { class: 'evidence', id: 'evidence' }, v.evidence.map((x) => h('li', null, h('code', null, x))))
              : h('p', { class: 'muted' }, 'The agent reported no evidence lines.'),
            h('div', { class: 'no-print panel-actions' }, print)),
          h('section', { class: 'panel', 'aria-labelledby': 'sec-timeline' },
            h('h2', { id: 'sec-timeline' }, 'Timeline'),
            d.timeline.length
              ? h('ol', { class: 'timeline', id: 'timeline' }, d.timeline.map(timelineItem))
              : h('p', { class: 'muted' }, 'No events recorded.'))),
      ));
  };

  async function load(keepForm: boolean): Promise<void> {
    try {
      render(await api.violation(agentId, id, ctx.signal), keepForm);
    } catch (err) {
      if (isAbort(err)) return;
      if (err instanceof ApiError && err.status === 404) {
        fill(heading.querySelector('h1') ?? heading, 'Violation not found');
        fill(body, h('p', null, 'There is no violation with this id. It may have been removed by the retention policy.'));
        return;
      }
      fill(body, errorBox(`Could not load the violation: ${errorText(err)}`));
    }
  }

  // Changes while the page is open (the call ends, a nudge is clicked) show up here too,
  // without touching a note being typed.
  subscribeViolations((v) => {
    if (v.id === id && v.agentId === agentId && current) void load(true);
  }, () => undefined, ctx.signal);
  every(1000, () => {
    if (current && !current.violation.endedAt && durationEl) durationEl.textContent = fmtDuration(liveDurationSec(current.violation));
  }, ctx.signal);
  void load(false);
};
