/**
 * One alert, shaped for each channel. Pure functions: the bytes each receiver gets.
 *
 * - webhook: the AlertMessage JSON itself (the body that is signed).
 * - Teams: a Workflows webhook ("Post to a channel when a webhook request is received")
 *   takes a message with one Adaptive Card attachment:
 *   `{ type: "message", attachments: [{ contentType: "application/vnd.microsoft.card.adaptive", contentUrl: null, content: AdaptiveCard }] }`
 *   (Microsoft Learn, "Create incoming webhooks with Workflows for Microsoft Teams").
 *   Card version 1.4: what Teams renders on desktop, web and mobile.
 * - Slack: an incoming webhook takes `{ text, blocks }`; `text` is the notification
 *   fallback, `blocks` the Block Kit layout (api.slack.com/messaging/webhooks).
 * - email: subject, plain text and HTML.
 */
import { facts, type AlertMessage } from './message.js';

export const webhookBody = (m: AlertMessage): string => JSON.stringify(m);

export function teamsBody(m: AlertMessage): string {
  const card = {
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    type: 'AdaptiveCard',
    version: '1.4',
    body: [
      { type: 'TextBlock', text: m.type === 'test' ? 'ConsultGuard test alert' : 'ConsultGuard alert', weight: 'Bolder', size: 'Medium', wrap: true },
      { type: 'TextBlock', text: m.summary, wrap: true },
      { type: 'FactSet', facts: facts(m).map(([title, value]) => ({ title, value })) },
    ],
    msteams: { width: 'Full' },
  };
  return JSON.stringify({ type: 'message', attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', contentUrl: null, content: card }] });
}

/** Slack's mrkdwn treats & < > as markup: escape them (api.slack.com/reference/surfaces/formatting). */
const slackEscape = (s: string): string => s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');

export function slackBody(m: AlertMessage): string {
  const fields = facts(m).slice(0, 10).map(([k, v]) => ({ type: 'mrkdwn', text: `*${slackEscape(k)}*\n${slackEscape(v)}` }));
  return JSON.stringify({
    text: `ConsultGuard: ${m.summary}`,
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: m.type === 'test' ? 'ConsultGuard test alert' : 'ConsultGuard alert' } },
      { type: 'section', text: { type: 'mrkdwn', text: slackEscape(m.summary) } },
      ...(fields.length ? [{ type: 'section', fields }] : []),
    ],
  });
}

const html = (s: string): string => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export function emailContent(m: AlertMessage): { subject: string; text: string; html: string } {
  const rows = facts(m);
  const text = [m.summary, '', ...rows.map(([k, v]) => `${k}: ${v}`), '', `Alert id: ${m.alertId}`, 'Clinicians are shown by pseudonym; a lead may reveal a name in the dashboard, with a reason (audited).'].join('\n');
  const table = rows.map(([k, v]) => `<tr><th align="left" style="padding-right:1em">${html(k)}</th><td>${html(v)}</td></tr>`).join('');
  return {
    subject: `[ConsultGuard] ${m.summary}`.slice(0, 200),
    text,
    html: `<p>${html(m.summary)}</p><table>${table}</table><p style="color:#666">Alert id ${html(m.alertId)}. Clinicians are shown by pseudonym.</p>`,
  };
}
