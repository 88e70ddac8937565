/**
 * Form parts the admin screens share: a labelled field (label tied to its control, hint
 * read by screen readers via aria-describedby), a polite live region that announces each
 * result, and a copy button that says what it copied. Focus is moved by the views.
 * The violation page's small forms (review, reveal) share `markInvalid` and `sendForm`.
 */
import { ApiError, errorText } from '../api.js';
import { h, nextId } from '../dom.js';

export function field(label: string, control: HTMLInputElement | HTMLSelectElement, hint?: string): HTMLElement {
  const id = control.id || nextId('f');
  control.id = id;
  const hintEl = hint ? h('span', { class: 'field-hint', id: `${id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return h('div', { class: 'field' }, h('label', { for: id }, label), control, hintEl);
}

export function select(name: string, options: Array<[string, string]>, value?: string): HTMLSelectElement {
  const el = h('select', { name }, options.map(([v, text]) => h('option', { value: v }, text)));
  if (value !== undefined) el.value = value;
  return el;
}

export interface Status {
  el: HTMLElement;
  ok(text: string): void;
  error(text: string): void;
  clear(): void;
}

/** An aria-live region: each change is read out once, without moving focus. */
export function liveStatus(): Status {
  const el = h('p', { class: 'form-status', role: 'status', 'aria-live': 'polite' });
  const set = (text: string, kind: string) => {
    el.className = `form-status ${kind}`;
    el.textContent = text;
  };
  return { el, ok: (t) => set(t, 'notice notice-ok'), error: (t) => set(t, 'notice notice-error'), clear: () => set('', '') };
}

/** Copies text; where the Clipboard API is not allowed (plain http off localhost) selects it for Ctrl+C. */
export async function copyText(text: string, fallback: HTMLElement): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const range = document.createRange();
    range.selectNodeContents(fallback);
    const sel = window.getSelection();
    sel?.removeAllRanges();
    sel?.addRange(range);
    return false;
  }
}

/** A block of text to copy (an install line, a token) with its own labelled copy button. */
export function copyBlock(label: string, text: string, status: Status, cls = ''): HTMLElement {
  const code = h('code', null, text);
  const pre = h('pre', { class: `copy-text ${cls}`, tabindex: 0, 'aria-label': label }, code);
  const btn = h('button', { type: 'button', class: 'btn', 'data-copy': label }, `Copy ${label}`);
  btn.addEventListener('click', () => {
    void copyText(text, code).then((done) => (done ? status.ok(`Copied the ${label}.`) : status.error(`The browser did not allow copying; the ${label} is selected: press Ctrl+C (⌘C).`)));
  });
  return h('div', { class: 'copy-block' }, pre, btn);
}

/** Disables a form's controls while a request runs, so a double press does not send twice. */
export async function busy<T>(form: HTMLFormElement, work: () => Promise<T>): Promise<T> {
  const controls = [...form.querySelectorAll<HTMLButtonElement | HTMLInputElement | HTMLSelectElement>('button, input, select')];
  form.setAttribute('aria-busy', 'true');
  for (const c of controls) c.disabled = true;
  try {
    return await work();
  } finally {
    for (const c of controls) c.disabled = false;
    form.removeAttribute('aria-busy');
  }
}

/** A field left wrong: `msg` (a form-msg live line) says what to write, the field is marked and focused. */
export function markInvalid(msg: HTMLElement, control: HTMLElement, text: string): void {
  msg.className = 'form-msg form-error';
  msg.textContent = text;
  control.setAttribute('aria-invalid', 'true');
  control.focus();
}

/**
 * Sends one request from a small form: `submit` is disabled and `pending` shown meanwhile; a
 * failure re-enables it and says what failed, naming a stale session (csrf) so the user
 * knows to reload rather than retry.
 */
export function sendForm<T>(submit: HTMLButtonElement, msg: HTMLElement, pending: string, failure: string, request: () => Promise<T>, onDone: (result: T) => void): void {
  submit.disabled = true;
  msg.className = 'form-msg';
  msg.textContent = pending;
  request().then(onDone, (err: unknown) => {
    submit.disabled = false;
    msg.className = 'form-msg form-error';
    msg.textContent = err instanceof ApiError && err.code === 'csrf' ? 'Your session is out of date; reload the page and try again.' : `${failure}: ${errorText(err)}`;
  });
}
