/**
 * The clinician on a violation's detail page: a pseudonym by default, with "Reveal name"
 * asking why (a labelled, required text field; Enter submits, Escape cancels, focus moves
 * to the answer and a live region reads it out). The name is kept in this page's memory
 * only (never in storage, the URL or the feed) and the server records the reveal, with its
 * reason, in the audit log and on the timeline.
 */
import { api } from '../api.js';
import { markInvalid, sendForm } from '../components/form.js';
import { fill, h, nextId } from '../dom.js';
import { fmtDateTime } from '../format.js';
import type { RevealReply, Violation } from '../types.js';

export interface Revealed {
  key: string;
  reply: RevealReply;
}

const KIND_NOTE: Record<string, string> = {
  pseudonym: 'pseudonym',
  hashed: 'pseudonym; the workstation sent only a keyed hash, so the name cannot be revealed',
  erased: 'erased by a data-subject request',
};

/** The "User" fact: what is shown, and the way to reveal it where that is possible. */
export function clinicianFact(v: Violation, revealed: Revealed | null, onRevealed: (r: RevealReply) => void): HTMLElement {
  const box = h('div', { class: 'clinician' });
  if (v.user === null) return fill(box, 'unknown'), box;
  const key = `${v.agentId}/${v.id}`;
  if (revealed && revealed.key === key) {
    const r = revealed.reply;
    const name = h('strong', { class: 'revealed-name', id: 'revealed-name', tabindex: -1 }, r.user);
    fill(box, name, ' ', h('span', { class: 'muted' }, `(${r.pseudonym})`),
      h('p', { class: 'hint reveal-note', role: 'status' }, `Shown to you only, ${fmtDateTime(r.revealedAt)}. Recorded in the audit log and on the timeline with your reason: “${r.reason}”.`));
    return box;
  }
  const kind = v.userKind ?? 'pseudonym';
  fill(box, h('span', { class: 'pseudonym' }, v.user), kind !== 'name' ? h('span', { class: 'muted' }, ` (${KIND_NOTE[kind] ?? kind})`) : null);
  if (kind !== 'pseudonym') return box;

  const formId = nextId('reveal-form');
  const reasonId = nextId('reveal-reason');
  const button = h('button', { type: 'button', class: 'btn btn-small', 'aria-expanded': 'false', 'aria-controls': formId }, 'Reveal name');
  const reason = h('textarea', { id: reasonId, name: 'reason', rows: 2, maxlength: 500, required: true, 'aria-describedby': `${reasonId}-hint` });
  const msg = h('p', { class: 'form-msg', role: 'status', 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Reveal');
  const cancel = h('button', { type: 'button', class: 'btn' }, 'Cancel');
  const form = h('form', { id: formId, class: 'reveal-form', novalidate: true, hidden: true },
    h('div', { class: 'field' },
      h('label', { for: reasonId }, 'Why do you need this clinician’s name?'),
      h('p', { class: 'hint', id: `${reasonId}-hint` }, 'Required. Recorded in the audit log and on this violation’s timeline with your name and the time. The name is shown to you only, on this page.'),
      reason),
    h('div', { class: 'form-row' }, submit, cancel, msg));
  const close = () => {
    form.hidden = true;
    button.setAttribute('aria-expanded', 'false');
    button.focus();
  };
  button.addEventListener('click', () => {
    form.hidden = !form.hidden;
    button.setAttribute('aria-expanded', String(!form.hidden));
    if (!form.hidden) reason.focus();
  });
  cancel.addEventListener('click', close);
  form.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape') close();
    if (ev.key === 'Enter' && !ev.shiftKey && ev.target === reason) {
      ev.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const why = reason.value.trim();
    if (why.length < 3) return markInvalid(msg, reason, 'Say why you need the name (at least 3 characters).');
    sendForm(submit, msg, 'Revealing…', 'Could not reveal', () => api.reveal(v.agentId, v.id, why), onRevealed);
  });
  box.append(' ', button, form);
  return box;
}
