/** What every page view gets, and small helpers they share. */
import type { Shell } from '../components/shell.js';
import { h } from '../dom.js';
import type { User } from '../types.js';

export interface ViewCtx {
  root: HTMLElement;
  params: Record<string, string>;
  query: URLSearchParams;
  user: User;
  shell: Shell;
  /** Aborted when the user leaves the page: stop timers, streams and fetches. */
  signal: AbortSignal;
  /** Sets the document title ("Fleet · ConsultGuard"). */
  title(text: string): void;
}

export type View = (ctx: ViewCtx) => void;

/** sessionStorage key of the last filtered feed URL (for "back to the list"). */
export const LAST_LIST_KEY = 'cg.lastList';

/** setInterval that stops with the page. */
export function every(ms: number, fn: () => void, signal: AbortSignal): void {
  const t = setInterval(fn, ms);
  signal.addEventListener('abort', () => clearInterval(t));
}

/** The page heading; focusable so navigation can move focus to it for screen readers. */
export function pageHeading(text: string, ...extra: Node[]): HTMLElement {
  return h('div', { class: 'page-head' }, h('h1', { tabindex: -1 }, text), ...extra);
}

export function errorBox(message: string): HTMLElement {
  return h('p', { class: 'notice notice-error', role: 'alert' }, message);
}

export function loadingText(what: string): HTMLElement {
  return h('p', { class: 'loading', role: 'status' }, `Loading ${what}…`);
}
