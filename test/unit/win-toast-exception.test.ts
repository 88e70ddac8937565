/**
 * Issue 14 on Windows: the toast's "I need this app…" and "What ConsultGuard sees" buttons,
 * the reasons toast, the need/claim URLs (the URL is attacker-reachable: any web page can
 * open a consultguard: link) and the claim's way to the agent. Real files and a real child
 * for the handler; the toast script's output lines replayed through the real presenter,
 * whose claim is what the helper sends over its IPC (ipc-server.ts). PowerShell and toasts
 * cannot run here; under wine msi-wine.test.ts runs the handler through the shell.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createPresenter } from '../../agent/nudge/present.js';
import {
  claimUrl, needUrl, nudgeUrl, parseToastLine, reasonsTag, reasonsToastXml, toastScript, toastTag, toastXml,
} from '../../agent/nudge/notify/win32.js';
import { clickFile, handleNudgeUrl, newToastNonce, parseNudgeUrl, pendingFile, removePending, writePending, type PendingNudge } from '../../agent/nudge/url-handler.js';
import { NudgeRequest } from '../../shared/ipc.js';
import { isAppError } from '../../shared/errors.js';
import { silentLogger } from '../../shared/log.js';
import { find, findAll, parseXml } from '../installers/xml.js';
import { tempDir } from '../support/server.js';

const ID = '5f0e8c1e-8a54-4a59-9e43-2a7f7a0d6f10';
const NONCE = '0123456789abcdef0123456789abcdef';
// Every quote kind PowerShell and XML know, and markup, in the labels the policy writes.
const QUOTES = `' \u2018 \u2019 \u201A \u201B " \u201C \u201D \u201E \` & < >`;
const reasons = [
  { id: 'patient-cannot-use', label: `The patient can\u2019t use "the approved" app ${QUOTES}` },
  { id: 'approved-down', label: 'The approved app is down' },
  { id: 'emergency', label: 'Emergency' },
  { id: 'r4', label: 'Four' },
  { id: 'r5', label: 'Five' },
  { id: 'r6', label: 'Six' },
];
const request = NudgeRequest.parse({
  type: 'nudge', id: ID, title: `Dr O\u2019Brien: use \u201CHealthdirect\u201D`, message: `Zoom isn't approved. ${QUOTES}`,
  approved: { name: `Healthdirect \u201AVideo\u201B Call`, url: 'https://vcc.healthdirect.org.au/' },
  aboutUrl: 'https://clinic.example/consultguard', timeoutSec: 300, app: 'zoom',
  exceptions: { reasons, maxMinutes: 45 }, sees: [{ heading: 'When', lines: ['Consult hours only'] }],
});

describe('Windows toast with exceptions and "What ConsultGuard sees"', () => {
  it('has at most 5 buttons: Open, I need this app…, What ConsultGuard sees, Why, Not now; all protocol, none with a target', () => {
    const actions = findAll(find(parseXml(toastXml(request, NONCE)), 'actions'), 'action').map((a) => a.attrs);
    expect(actions).toEqual([
      { content: `Open Healthdirect \u201AVideo\u201B Call`, arguments: nudgeUrl('open', ID), activationType: 'protocol' },
      { content: 'I need this app\u2026', arguments: `consultguard:need?n=${ID}&t=${NONCE}`, activationType: 'protocol' },
      { content: 'What ConsultGuard sees', arguments: `consultguard:sees?n=${ID}`, activationType: 'protocol' },
      { content: 'Why am I seeing this?', arguments: nudgeUrl('about', ID), activationType: 'protocol' },
      { content: 'Not now', arguments: nudgeUrl('dismiss', ID), activationType: 'protocol' },
    ]);
    // No nonce (or no reasons): no exception button; no sees: no sees button.
    expect(toastXml(request)).not.toContain('consultguard:need');
    expect(toastXml({ ...request, exceptions: { reasons: [], maxMinutes: 45 } }, NONCE)).not.toContain('consultguard:need');
    expect(toastXml({ ...request, sees: undefined }, NONCE)).not.toContain('consultguard:sees');
  });

  it('the reasons toast: one claim per reason, 5 as buttons and the sixth in the right-click menu, labels kept as text', () => {
    const xml = reasonsToastXml(request, NONCE)!;
    const toast = parseXml(xml);
    expect(toast.attrs.launch).toBe(nudgeUrl('open', ID)); // the body never claims
    const actions = findAll(find(toast, 'actions'), 'action').map((a) => a.attrs);
    expect(actions.map((a) => a.content)).toEqual(reasons.map((r) => r.label));
    expect(actions.map((a) => a.arguments)).toEqual(reasons.map((r) => `consultguard:claim?n=${ID}&r=${r.id}&t=${NONCE}`));
    expect(actions.filter((a) => a.placement === undefined)).toHaveLength(5);
    expect(actions[5]!.placement).toBe('contextMenu');
    const texts = findAll(find(find(toast, 'visual'), 'binding'), 'text').map((t) => t.text);
    expect(texts[1]).toContain('up to 45 minutes');
    expect(reasonsToastXml(request)).toBeNull();
    // Every quote kind is escaped in attributes (no raw " ' < > & inside content="...").
    const attr = /content="([^"]*)"/.exec(xml.slice(xml.indexOf('<actions>')))![1]!;
    expect(attr).toBe(escapeAll(reasons[0]!.label));
  });

  it('the script carries both toasts as base64 and swaps in the reasons toast on "need"', () => {
    const script = toastScript(request, { click: 'C:\\Users\\o\u2019brien\\clicks\\x', serviceExe: null, nonce: NONCE });
    const b64 = (t: string) => Buffer.from(t, 'utf8').toString('base64');
    expect(script).toContain(b64(toastXml(request, NONCE)));
    expect(script).toContain(b64(reasonsToastXml(request, NONCE)!));
    expect(script).toContain(`$st.tag = '${reasonsTag(ID)}'`);
    expect(reasonsTag(ID)).toHaveLength(16);
    expect(reasonsTag(ID)).not.toBe(toastTag(ID));
    expect(script).toContain("if ($a -eq 'need' -and $reasonsXml) {");
    for (const text of [reasons[0]!.label, request.title, '\u201C']) expect(script).not.toContain(text);
    expect(toastScript(request, { click: 'C:\\x', serviceExe: null })).toContain('$reasonsXml = $null');
  });

  it.each([
    ['a claim the handler recorded', 'action:claim:emergency recorded', { kind: 'action', action: 'exception', reason: 'emergency' }],
    ['"What ConsultGuard sees" opened', 'action:sees opened', { kind: 'action', action: 'sees', handled: null }],
    ['"What ConsultGuard sees" failed', 'action:sees failed: explorer.exe: denied', { kind: 'action', action: 'sees', handled: 'explorer.exe: denied' }],
  ])('parses %s', (_name, line, event) => {
    expect(parseToastLine(`${line}\r\n`)).toEqual(event);
  });

  it.each(['action:claim:Emergency recorded', 'action:claim:emergency failed: x', 'action:claim: recorded', 'action:need recorded', 'action:claim:../x recorded'])('ignores %s', (line) => {
    expect(parseToastLine(line)).toBeNull();
  });
});

function escapeAll(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

describe('need and claim URLs', () => {
  it('parses the good shapes, lower-casing ids', () => {
    expect(parseNudgeUrl(`consultguard:sees?n=${ID}`)).toEqual({ action: 'sees', id: ID });
    expect(parseNudgeUrl(needUrl(ID.toUpperCase(), NONCE))).toEqual({ action: 'need', id: ID, nonce: NONCE });
    expect(parseNudgeUrl(claimUrl(ID, 'patient-cannot-use', NONCE))).toEqual({ action: 'claim', id: ID, reason: 'patient-cannot-use', nonce: NONCE });
    // Within what service-host.c passes on: at most 160 characters of [A-Za-z0-9?=&-/].
    const longest = claimUrl(ID, `a${'b'.repeat(40)}`, NONCE);
    expect(longest.length).toBeLessThanOrEqual(160);
    expect(longest.slice('consultguard:'.length)).toMatch(/^[A-Za-z0-9?=&\-/]+$/);
  });

  it.each([
    `consultguard:claim?n=${ID}&r=emergency`, // no nonce
    `consultguard:claim?n=${ID}&t=${NONCE}&r=emergency`, // another order
    `consultguard:claim?n=${ID}&r=emergency&t=${NONCE}&r=other`,
    `consultguard:claim?n=${ID}&r=emergency&t=${NONCE.slice(1)}`,
    `consultguard:claim?n=${ID}&r=../../x&t=${NONCE}`,
    `consultguard:claim?n=${ID}&r=-x&t=${NONCE}`,
    `consultguard:claim?n=${ID}&r=${'a'.repeat(42)}&t=${NONCE}`,
    `consultguard:claim?n=${ID}&r=emer%67ency&t=${NONCE}`,
    `consultguard:claim?n=${ID}&r=emergency&t=${NONCE}&minutes=600`,
    `consultguard:need?n=${ID}`,
    `consultguard:sees?n=${ID}&t=${NONCE}`,
    `consultguard://claim?n=${ID}&r=emergency&t=${NONCE}`,
    `consultguard:claim?n=${ID}&r=emergency&t=${NONCE} --inspect`,
  ])('refuses %s', (url) => {
    let err: unknown;
    try {
      parseNudgeUrl(url);
    } catch (e) {
      err = e;
    }
    expect(isAppError(err) && err.code === 'bad_option').toBe(true);
  });
});

describe('the handler on a claim (real files)', () => {
  let dir = '';
  let pending: PendingNudge;
  beforeEach(() => {
    dir = tempDir('cg-claim-');
    writeFileSync(`${dir}/stub.cjs`, `require('fs').appendFileSync(${JSON.stringify(`${dir}/opened.txt`)}, process.argv.slice(2).join('|') + '\\n')`);
    pending = {
      v: 1, id: ID, expiresAt: Date.now() + 60_000, open: { cmd: process.execPath, args: [`${dir}/stub.cjs`, 'approved'] },
      sees: { cmd: process.execPath, args: [`${dir}/stub.cjs`, 'sees-page'] }, nonce: newToastNonce(), reasons: ['patient-cannot-use', 'emergency'],
    };
    writePending(dir, pending);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('records a claim with a reason of this nudge and its key, once; a replay is refused', async () => {
    expect(pending.nonce).toMatch(/^[0-9a-f]{32}$/);
    expect(await handleNudgeUrl(needUrl(ID, pending.nonce!), dir)).toEqual({ action: 'need', id: ID, problem: null });
    expect(readFileSync(clickFile(dir, ID), 'utf8')).toBe('need\n');
    expect(await handleNudgeUrl(claimUrl(ID, 'emergency', pending.nonce!), dir)).toEqual({ action: 'claim', id: ID, problem: null });
    expect(readFileSync(clickFile(dir, ID), 'utf8')).toBe('claim:emergency\n');
    expect(readFileSync(`${clickFile(dir, ID)}.result`, 'utf8')).toBe('recorded\n');
    // The same URL again, or another reason: the first claim stands, the click file is unchanged.
    expect((await handleNudgeUrl(claimUrl(ID, 'emergency', pending.nonce!), dir)).problem).toBe('an exception was already claimed from this nudge');
    expect((await handleNudgeUrl(claimUrl(ID, 'patient-cannot-use', pending.nonce!), dir)).problem).toBe('an exception was already claimed from this nudge');
    expect(readFileSync(clickFile(dir, ID), 'utf8')).toBe('claim:emergency\n');
    // Once the nudge is over the helper removes its pending file: nothing is found any more.
    removePending(dir, ID);
    expect((await handleNudgeUrl(claimUrl(ID, 'emergency', pending.nonce!), dir)).problem).toMatch(/no such nudge/);
    expect(existsSync(`${dir}/opened.txt`)).toBe(false); // a claim opens nothing
  });

  it('refuses a claim without this toast\'s key, with a reason it did not offer, after expiry, or for a nudge without exceptions', async () => {
    const other = newToastNonce();
    expect((await handleNudgeUrl(claimUrl(ID, 'emergency', other), dir)).problem).toBe('the link does not carry this nudge\'s key (not from its toast)');
    expect((await handleNudgeUrl(needUrl(ID, other), dir)).problem).toBe('the link does not carry this nudge\'s key (not from its toast)');
    expect((await handleNudgeUrl(claimUrl(ID, 'bored', pending.nonce!), dir)).problem).toBe('"bored" is not one of this nudge\'s reasons (patient-cannot-use, emergency)');
    expect((await handleNudgeUrl(claimUrl(ID, 'emergency', pending.nonce!), dir, { now: () => pending.expiresAt + 1 })).problem).toBe('this nudge has expired');
    expect((await handleNudgeUrl(claimUrl('0b7c2f0e-1111-4a59-9e43-2a7f7a0d6f10', 'emergency', pending.nonce!), dir)).problem).toMatch(/no such nudge/);
    expect(existsSync(clickFile(dir, ID))).toBe(false);
    const { nonce: _n, reasons: _r, ...plain } = pending;
    writePending(dir, plain);
    expect((await handleNudgeUrl(claimUrl(ID, 'emergency', pending.nonce!), dir)).problem).toBe('this nudge offers no exception');
    // Those refusals took no claim: a good one still goes through.
    writePending(dir, pending);
    expect((await handleNudgeUrl(claimUrl(ID, 'emergency', pending.nonce!), dir)).problem).toBeNull();
    expect(existsSync(pendingFile(dir, ID))).toBe(true);
  });

  it('opens "What ConsultGuard sees" from the page the helper named', async () => {
    expect((await handleNudgeUrl(`consultguard:sees?n=${ID}`, dir)).problem).toBeNull();
    await vi.waitFor(() => expect(readFileSync(`${dir}/opened.txt`, 'utf8')).toBe('sees-page\n'));
    expect(readFileSync(`${clickFile(dir, ID)}.result`, 'utf8')).toBe('opened\n');
  });
});

describe('the claim through the presenter (a real child printing the script\'s lines)', () => {
  const fake = (lines: string[], done?: () => void) => () => ({
    cmd: process.execPath,
    args: ['-e', `process.stdout.write(${JSON.stringify(lines.map((l) => `${l}\r\n`).join(''))})`],
    shownOnSpawn: false,
    parse: parseToastLine,
    ...(done ? { done } : {}),
  });

  it('sends the claim to the agent before the final outcome, opens nothing, and ends the nudge (pending file removed)', async () => {
    const order: string[] = [];
    let done = 0;
    const launches: unknown[] = [];
    const present = createPresenter({ platform: 'win32', notifier: fake(['shown', 'action:claim:emergency recorded'], () => done++), log: silentLogger(), launch: async (l) => (launches.push(l), null) });
    await present(request, (o, d) => void order.push(`${o}:${d ?? ''}`), (reason, minutes) => void order.push(`claim:${reason}:${minutes}`));
    expect(order).toEqual(['shown:', 'claim:emergency:45', 'dismissed:claimed an exception: Emergency']);
    expect(launches).toEqual([]);
    expect(done).toBe(1);
  });

  it('a reason the nudge did not offer claims nothing and opens nothing', async () => {
    const order: string[] = [];
    const present = createPresenter({ platform: 'win32', notifier: fake(['shown', 'action:claim:bored recorded']), log: silentLogger(), launch: async () => (order.push('launch'), null) });
    await present(request, (o, d) => void order.push(`${o}:${d ?? ''}`), () => void order.push('claim'));
    expect(order).toEqual(['shown:', 'dismissed:chose an exception reason this nudge did not offer ("bored"); nothing claimed']);
  });

  it('"What ConsultGuard sees" opened by the handler is not opened again', async () => {
    const order: string[] = [];
    const present = createPresenter({ platform: 'win32', notifier: fake(['shown', 'action:sees opened']), log: silentLogger(), launch: async () => (order.push('launch'), null) });
    await present(request, (o, d) => void order.push(`${o}:${d ?? ''}`));
    expect(order).toEqual(['shown:', 'dismissed:opened "What ConsultGuard sees"']);
  });
});
