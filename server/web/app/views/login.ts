/**
 * The sign-in page: "Sign in with PROVIDER" when single sign-on is set up (a plain link: the
 * server sends the browser on to the provider), and the username and password form, kept
 * for local accounts (break-glass); a plain sentence when it does not work.
 */
import { api, ApiError } from '../api.js';
import { h } from '../dom.js';
import type { Session } from '../types.js';

export interface LoginOptions {
  notice: string | null;
  /** Where to land after signing in (a path here), passed on to single sign-on too. */
  next: string;
  signal: AbortSignal;
  onSignedIn(session: Session): void;
}

function failureText(err: unknown): string {
  if (!(err instanceof ApiError)) return 'Could not sign in; reload the page and try again.';
  if (err.status === 401) return 'Wrong username or password. Check both and try again.';
  if (err.status === 429 || err.code === 'rate_limited') {
    // A short Retry-After is the server's busy signal (many sign-ins being checked), not a lock-out.
    if (err.retryAfter !== null && err.retryAfter <= 5) return 'The server is busy checking other sign-ins. Try again in a few seconds.';
    const wait = err.retryAfter ? ` Try again in ${Math.max(1, Math.ceil(err.retryAfter / 60))} min.` : ' Wait a few minutes before trying again.';
    return `Too many failed sign-in attempts: sign-in is locked for now.${wait}`;
  }
  if (err.status === 0) return err.message;
  return `Could not sign in: ${err.message}`;
}

export function loginView(root: HTMLElement, opts: LoginOptions): void {
  const user = h('input', { id: 'login-user', name: 'username', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' });
  const pass = h('input', { id: 'login-pass', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-wide' }, 'Sign in');
  const error = h('p', { id: 'login-error', class: 'form-error', role: 'alert' });
  const notice = opts.notice ? h('p', { class: 'notice', role: 'status' }, opts.notice) : null;

  const form = h('form', { class: 'login-form', novalidate: true, 'aria-describedby': 'login-error' },
    h('div', { class: 'field' }, h('label', { for: 'login-user' }, 'Username'), user),
    h('div', { class: 'field' }, h('label', { for: 'login-pass' }, 'Password'), pass),
    error,
    submit,
  );

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    error.textContent = '';
    if (!user.value.trim() || !pass.value) {
      error.textContent = 'Enter your username and password.';
      (user.value.trim() ? pass : user).focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = 'Signing in…';
    api.login(user.value.trim(), pass.value).then(
      (session) => {
        if (!opts.signal.aborted) opts.onSignedIn(session);
      },
      (err: unknown) => {
        submit.disabled = false;
        submit.textContent = 'Sign in';
        error.textContent = failureText(err);
        pass.value = '';
        pass.focus();
        user.setAttribute('aria-invalid', 'true');
        pass.setAttribute('aria-invalid', 'true');
      },
    );
  });

  // Filled in when the server says a provider is set up; empty (nothing shown) otherwise.
  const sso = h('div', { class: 'login-sso' });
  root.replaceChildren(
    h('main', { id: 'main', class: 'login-page' },
      h('div', { class: 'login-card' },
        h('p', { class: 'brand brand-login' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }, '◆'), 'ConsultGuard'),
        h('h1', { tabindex: -1 }, 'Sign in'),
        h('p', { class: 'muted' }, 'Security dashboard: consumer video apps used for patient consults.'),
        notice,
        sso,
        form,
      )),
  );
  user.focus();
  api.signInOptions(opts.signal).then((o) => {
    if (!o.sso || opts.signal.aborted) return;
    const href = `${o.sso.loginUrl}?next=${encodeURIComponent(opts.next)}`;
    sso.replaceChildren(
      h('a', { class: 'btn btn-primary btn-wide', href }, `Sign in with ${o.sso.name}`),
      h('p', { class: 'login-or muted' }, 'or with a local account'),
    );
  }, () => { /* no options: the local form alone, as before */ });
}
