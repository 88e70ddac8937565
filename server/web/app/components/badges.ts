/**
 * Status words with a colour and a glyph: the word carries the meaning, so colour is never
 * the only signal (WCAG 1.4.1).
 */
import { h, icon } from '../dom.js';
import { ackLabel, nudgeLabel, stateLabel } from '../format.js';
import type { Ack, AppState, Violation } from '../types.js';

export function stateBadge(state: AppState): HTMLElement {
  return state === 'in-call'
    ? h('span', { class: 'badge badge-danger' }, icon('●'), stateLabel(state))
    : h('span', { class: 'badge badge-warn' }, icon('▲'), stateLabel(state));
}

export function ackBadge(ack: Ack | null): HTMLElement {
  if (!ack) return h('span', { class: 'badge badge-open' }, icon('○'), ackLabel(ack));
  return ack.status === 'resolved'
    ? h('span', { class: 'badge badge-ok' }, icon('✓'), ackLabel(ack))
    : h('span', { class: 'badge badge-info' }, icon('◐'), ackLabel(ack));
}

export function nudgeText(v: Pick<Violation, 'nudged' | 'nudgeClicked'>): HTMLElement {
  const glyph = v.nudgeClicked ? '✓' : v.nudged ? '•' : '–';
  return h('span', { class: v.nudgeClicked ? 'nudge nudge-clicked' : v.nudged ? 'nudge nudge-shown' : 'nudge nudge-none' }, icon(glyph), nudgeLabel(v));
}

export function ongoingTag(): HTMLElement {
  return h('span', { class: 'tag-ongoing' }, icon('◉'), 'ongoing');
}
