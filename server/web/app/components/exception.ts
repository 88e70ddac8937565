/**
 * Clinician exceptions on the dashboard (issue 14): the feed's "exception" badge and the
 * detail page's panel, "exception claimed: reason", with the lead's accept / reject and note.
 */
import { api, errorText } from '../api.js';
import { h, icon, nextId } from '../dom.js';
import { fmtFull } from '../format.js';
import type { Violation } from '../types.js';

/** The feed's badge: nothing for a violation without a claim. */
export function exceptionBadge(v: Pick<Violation, 'exception'>): HTMLElement | null {
  const x = v.exception;
  if (!x) return null;
  const word = x.decision === 'accepted' ? 'exception accepted' : x.decision === 'rejected' ? 'exception rejected' : 'exception claimed';
  return h('span', { class: `badge ${x.decision === 'rejected' ? 'badge-danger' : x.decision === 'accepted' ? 'badge-ok' : 'badge-info'}`, title: x.label }, icon('!'), `${word}: ${x.label}`);
}

/** The detail page's panel; `onDone` reloads the page after a decision. */
export function exceptionPanel(v: Violation, onDone: () => void): HTMLElement | null {
  const x = v.exception;
  if (!x) return null;
  const noteId = nextId('exc-note');
  const msg = h('p', { class: 'form-msg', role: 'status', 'aria-live': 'polite' });
  const note = h('textarea', { id: noteId, rows: 2, maxlength: 2000 });
  const decide = (decision: 'accept' | 'reject') => {
    msg.textContent = 'Saving…';
    api.exceptionDecision(v.agentId, v.id, decision, note.value.trim()).then(onDone, (err: unknown) => {
      msg.className = 'form-msg form-error';
      msg.textContent = `Could not save: ${errorText(err)}`;
    });
  };
  return h('section', { class: 'panel exception-panel', 'aria-labelledby': 'sec-exception' },
    h('h2', { id: 'sec-exception' }, 'Exception'),
    h('p', null, exceptionBadge(v)),
    h('p', { class: 'muted' }, `Claimed by the clinician ${fmtFull(x.claimedAt)}, no nudges until ${fmtFull(x.until)}.`),
    x.decision
      ? h('p', null, `${x.decision === 'accepted' ? 'Accepted' : 'Rejected'} by ${x.decidedBy ?? '?'}, ${x.decidedAt ? fmtFull(x.decidedAt) : ''}`, x.note ? h('blockquote', { class: 'tl-note' }, x.note) : null)
      : h('div', { class: 'no-print' },
        h('div', { class: 'field' }, h('label', { for: noteId }, 'Note (kept in the audit trail)'), note),
        h('div', { class: 'form-row' },
          h('button', { type: 'button', class: 'btn btn-primary', onclick: () => decide('accept') }, 'Accept exception'),
          h('button', { type: 'button', class: 'btn', onclick: () => decide('reject') }, 'Reject'),
          msg)),
  );
}
