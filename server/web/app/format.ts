/** Dates, durations and labels as people read them. Times show in the browser's own zone. */
import type { Ack, TimelineKind, Violation } from './types.js';

const dateTime = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', second: '2-digit' });
const dateTimeYear = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit' });
const full = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
const timeOnly = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const dateOnly = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', year: 'numeric' });
const dayShort = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short' });

export function isToday(d: Date, now = new Date()): boolean {
  return d.getFullYear() === now.getFullYear() && d.getMonth() === now.getMonth() && d.getDate() === now.getDate();
}

/** "14:02:11" today, "3 Nov, 14:02:11" before. */
export function fmtWhen(iso: string | null): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return isToday(d) ? timeOnly.format(d) : dateTime.format(d);
}

export function fmtDateTime(iso: string | null): string {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : dateTimeYear.format(d);
}

/** With seconds and year: for evidence that may be handed on. */
export function fmtFull(iso: string | null): string {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : full.format(d);
}

export function fmtDate(d: Date): string {
  return dateOnly.format(d);
}

export function fmtDay(day: string): string {
  return dayShort.format(parseDay(day));
}

/** "45 s", "12 min 03 s", "2 h 05 min". */
export function fmtDuration(sec: number): string {
  const s = Math.max(0, Math.floor(sec));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, '0')} s`;
  const hrs = Math.floor(m / 60);
  return `${hrs} h ${String(m % 60).padStart(2, '0')} min`;
}

/** "just now", "4 min ago", "3 h ago", "2 days ago". */
export function fmtAgo(iso: string | null, now = Date.now()): string {
  if (!iso) return 'never';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const s = Math.round((now - t) / 1000);
  if (s < 45) return 'just now';
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86_400) return `${Math.round(s / 3600)} h ago`;
  const d = Math.round(s / 86_400);
  return `${d} day${d === 1 ? '' : 's'} ago`;
}

/** How long it has lasted: ongoing violations keep counting in the browser. */
export function liveDurationSec(v: Pick<Violation, 'startedAt' | 'endedAt' | 'durationSec'>, now = Date.now()): number {
  if (v.endedAt) return v.durationSec;
  const started = Date.parse(v.startedAt);
  return Number.isNaN(started) ? v.durationSec : Math.max(v.durationSec, (now - started) / 1000);
}

export function stateLabel(state: string): string {
  return state === 'in-call' ? 'In call' : state === 'running' ? 'Running' : state;
}

export function ackLabel(ack: Ack | null): string {
  if (!ack) return 'Open';
  return ack.status === 'resolved' ? 'Resolved' : 'Acknowledged';
}

export function nudgeLabel(v: Pick<Violation, 'nudged' | 'nudgeClicked'>): string {
  if (v.nudgeClicked) return 'Shown, clicked';
  if (v.nudged) return 'Shown, not clicked';
  return 'Not shown';
}

export const TIMELINE_LABELS: Record<TimelineKind, string> = {
  started: 'Started',
  updated: 'Updated',
  ended: 'Ended',
  'nudge-shown': 'Nudge shown',
  'nudge-clicked': 'Nudge clicked (approved app opened)',
  'nudge-dismissed': 'Nudge dismissed',
  'nudge-suppressed': 'Nudge held back by policy',
  'app-closed': 'App closed by policy',
  'nudge-failed': 'Nudge could not be shown',
  acknowledged: 'Acknowledged',
  resolved: 'Resolved',
  'name-revealed': "Clinician's name revealed",
  'exception-claimed': 'Exception claimed by the clinician',
};

export function pct(part: number, whole: number): string {
  if (whole <= 0) return '–';
  return `${Math.round((part / whole) * 100)} %`;
}

/** 'YYYY-MM-DD' as a local date (midnight). */
export function parseDay(day: string): Date {
  const [y, m, d] = day.split('-').map(Number);
  return new Date(y ?? 1970, (m ?? 1) - 1, d ?? 1);
}

/** A local date as 'YYYY-MM-DD' (what <input type=date> reads and writes). */
export function toDay(d: Date): string {
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

export function startOfDay(d: Date): Date {
  return new Date(d.getFullYear(), d.getMonth(), d.getDate());
}

export function addDays(d: Date, n: number): Date {
  return new Date(d.getFullYear(), d.getMonth(), d.getDate() + n);
}
