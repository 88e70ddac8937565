/**
 * "What ConsultGuard sees", in words, from the policy in force: one module writes the text
 * for `consultguard-agent status`, `consultguard-agent transparency` and the page the
 * nudge links to, so the clinician reads the same thing everywhere.
 */
import type { EffectivePolicy } from '../../shared/policy.js';
import { DEFAULT_COLLECTION, DEFAULT_EXCEPTIONS, DEFAULT_TRANSPARENCY } from '../../shared/policy.js';

export type DescribedPolicy = Pick<EffectivePolicy, 'name' | 'timezone' | 'consultHours' | 'closures' | 'approved' | 'mode' | 'monitor' | 'catalog'> &
  Partial<Pick<EffectivePolicy, 'collection' | 'transparency' | 'exceptions'>>;

const DAY_NAMES: Record<string, string> = { mon: 'Mon', tue: 'Tue', wed: 'Wed', thu: 'Thu', fri: 'Fri', sat: 'Sat', sun: 'Sun' };

export interface Section {
  heading: string;
  lines: string[];
}

export function consultHoursText(p: Pick<EffectivePolicy, 'consultHours' | 'timezone' | 'closures'>): string {
  const hours = p.consultHours.map((w) => `${w.days.map((d) => DAY_NAMES[d]).join(',')} ${w.from}-${w.to}`).join('; ');
  return `${hours} (${p.timezone})${p.closures.length ? `; not on ${p.closures.join(', ')}` : ''}`;
}

/** What is collected, one sentence per switch. */
export function collectionLines(p: Partial<Pick<EffectivePolicy, 'collection'>>): string[] {
  const c = p.collection ?? DEFAULT_COLLECTION;
  return [
    'Only during consult hours, and only for the video apps listed, this computer checks which programs run, which cameras and microphones are in use (never what they see or hear) and where those apps connect.',
    'What is sent: which app was seen, when, whether a call was live, and the kind of signal that showed it.',
    c.userNames === 'full' ? 'Your account name is sent with each record.' : 'Your account name is not sent: a keyed code stands in for it, so records can be counted per person but not read back to a name.',
    c.evidence === 'full' ? 'Each record lists the signals seen (program name and number, the app server address it talked to).' : 'Each record lists only the kinds of signal seen (for example "camera in use by the app"), no program numbers or addresses.',
    c.hostname === 'full' ? 'The computer\'s full name is sent.' : c.hostname === 'short' ? 'The computer\'s short name is sent (without its network domain).' : 'The computer\'s name is not sent: a keyed code stands in for it.',
    'Never sent: command lines, web addresses or meeting links, window titles, screen, camera or microphone content, keystrokes, files or browsing history.',
    'Outside consult hours nothing is collected.',
  ];
}

export function transparencySections(p: DescribedPolicy): Section[] {
  const t = p.transparency ?? DEFAULT_TRANSPARENCY;
  const x = p.exceptions ?? DEFAULT_EXCEPTIONS;
  const names = new Map(p.catalog.apps.map((a) => [a.id, a.name]));
  const nudging = p.mode === 'monitor' ? 'Nothing is shown to you: this policy only records.' : `You get a notification pointing you to ${p.approved.name} (${p.approved.url})${p.mode === 'enforce' ? '; after a grace period the app is closed' : ''}.`;
  return [
    { heading: 'When', lines: [`Consult hours: ${consultHoursText(p)}.`] },
    { heading: 'What is collected', lines: [`Apps watched: ${p.monitor.map((id) => names.get(id) ?? id).join(', ') || 'none'}.`, ...collectionLines(p)] },
    { heading: 'What happens', lines: [nudging] },
    {
      heading: 'Exceptions',
      lines: x.reasons.length
        ? [`If you need the app for a consult, choose "I need this app for this consult" in the notification (or run "consultguard-agent exception --app APP --reason REASON"). No reminders for up to ${x.maxMinutes} minutes; your reason goes with the record and a lead reviews it.`, ...x.reasons.map((r) => `  ${r.id}: ${r.label}`)]
        : ['This clinic has not set up exceptions.'],
    },
    { heading: 'Who sees it', lines: [`${t.seenBy}.`] },
    { heading: 'How long it is kept', lines: [`${t.retention}.`] },
    { heading: 'Whom to ask', lines: [`${t.contact}.`] },
  ];
}

export function transparencyText(p: DescribedPolicy): string {
  return ['What ConsultGuard sees', ...transparencySections(p).flatMap((s) => ['', `${s.heading}:`, ...s.lines.map((l) => `  ${l}`)])].join('\n');
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A self-contained page (no scripts, no remote assets) the helper opens in the user's browser. */
export function transparencyHtml(p: DescribedPolicy): string {
  return transparencyHtmlFrom(transparencySections(p));
}

export function transparencyHtmlFrom(sections: Section[]): string {
  const body = sections.map((s) => `<h2>${esc(s.heading)}</h2>\n<ul>${s.lines.map((l) => `<li>${esc(l.trim())}</li>`).join('')}</ul>`).join('\n');
  return `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>What ConsultGuard sees</title><style>body{font:16px/1.5 system-ui,sans-serif;max-width:42em;margin:2em auto;padding:0 1em}h2{font-size:1.1em;margin-top:1.5em}</style></head>
<body><h1>What ConsultGuard sees</h1>\n${body}\n</body></html>\n`;
}
