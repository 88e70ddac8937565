/**
 * Revealing a clinician's name in the dashboard, in Chromium: the feed and the detail show
 * a pseudonym; "Reveal name" asks why (keyboard only here: Tab, Enter, typing), refuses an
 * empty reason, shows the name in place with the audit note and moves focus to it, and the
 * timeline gains the reveal. The name is not in the feed afterwards, nor after a reload.
 */
import { randomUUID } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStore } from '../../server/store/index.js';
import { hasChromium, launchChromium, NO_CHROMIUM, screenshot, VIEWPORT, watchErrors } from '../support/browser.js';
import { startTestServer, tempDir, TEST_SECRET, type TestServer } from '../support/server.js';
import { connectRaw, eventFrame, helloFrame, makeEvent } from '../support/ws-client.js';

if (!hasChromium) console.warn(NO_CHROMIUM);

const USER = 'pia.lead';
const PASSWORD = 'correct horse battery staple';

let server: TestServer;
let browser: Browser;
let page: Page;
let errors: string[];
let admin: string;
const violationId = randomUUID();
let agentId = '';

describe.skipIf(!hasChromium)('reveal a name in the dashboard', () => {
  beforeAll(async () => {
    const dataDir = tempDir('cg-e2e-priv-');
    const store = createStore(dataDir);
    await store.users.add(USER, 'lead', PASSWORD);
    admin = (await store.apiTokens.create('admin', 'dpo')).token;
    await store.close();
    server = await startTestServer({ dataDir });
    const c = await connectRaw(server.wsUrl);
    const hello = helloFrame({ enrollSecret: TEST_SECRET, site: 'north', host: { hostname: 'NORTH-PC-01', platform: 'win32', osVersion: '10.0.22631', agentVersion: '0.1.0' } });
    agentId = hello.agentId;
    c.send(hello);
    await c.next('welcome');
    c.send(eventFrame(1, [makeEvent({ violationId, app: 'zoom', state: 'in-call', user: 'CLINIC\\dr.lee', evidence: ['process Zoom.exe'] })]));
    await c.next('ack');
    c.close();
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: VIEWPORT, reducedMotion: 'reduce' });
    page = await context.newPage();
    page.setDefaultTimeout(8000);
    errors = watchErrors(page);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('shows a pseudonym, asks for a reason, reveals in place with the audit note, and records it', async () => {
    await page.goto(`${server.url}/violations`);
    await page.getByLabel('Username').fill(USER);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    const row = page.locator(`#violations-table tbody tr[data-id="${violationId}"]`);
    await row.waitFor();
    const rowText = (await row.textContent()) ?? '';
    const pseudonym = /clinician-[0-9a-f]{8}/.exec(rowText)?.[0];
    expect(pseudonym).toBeDefined();
    expect(rowText).not.toContain('dr.lee');

    await page.goto(`${server.url}/violations/${agentId}/${violationId}`);
    const reveal = page.getByRole('button', { name: 'Reveal name' });
    await reveal.waitFor();
    expect(await page.locator('.facts').textContent()).toContain(pseudonym);
    expect(await reveal.getAttribute('aria-expanded')).toBe('false');

    // Keyboard only: focus the button, open the form (focus lands in the labelled reason field).
    await reveal.focus();
    await page.keyboard.press('Enter');
    expect(await reveal.getAttribute('aria-expanded')).toBe('true');
    const reason = page.getByLabel('Why do you need this clinician’s name?');
    await expect.poll(() => reason.evaluate((el) => el === (el.ownerDocument as any).activeElement)).toBe(true);
    // An empty reason is refused on the page, with the reason why, and nothing is sent.
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('.reveal-form .form-msg').textContent()).toMatch(/Say why you need the name/);
    expect(await reason.getAttribute('aria-invalid')).toBe('true');

    await page.keyboard.type('Incident 4711: the clinician asked for a review');
    await page.keyboard.press('Enter');
    const name = page.locator('#revealed-name');
    await name.waitFor();
    expect(await name.textContent()).toBe('CLINIC\\dr.lee');
    await expect.poll(() => name.evaluate((el) => el === (el.ownerDocument as any).activeElement)).toBe(true);
    expect(await page.locator('.reveal-note').getAttribute('role')).toBe('status');
    expect(await page.locator('.reveal-note').textContent()).toMatch(/Shown to you only.*audit log.*Incident 4711/);
    await expect.poll(() => page.locator('#timeline').textContent()).toMatch(/Clinician's name revealed.*by pia\.lead.*Incident 4711/);
    expect(await page.locator('#timeline').textContent()).not.toContain('dr.lee');
    await screenshot(page, 'privacy-revealed');

    // Audited (by the dashboard user, with the reason and the pseudonym, never the name).
    const audit = (await (await fetch(`${server.url}/api/audit`, { headers: { authorization: `Bearer ${admin}` } })).json()) as { items: Array<{ actor: string; action: string; detail: any }> };
    expect(audit.items.find((a) => a.action === 'reveal-name')).toMatchObject({ actor: USER, detail: { pseudonym, reason: 'Incident 4711: the clinician asked for a review' } });

    // The name was for this page only: a reload, and the feed, show the pseudonym again.
    await page.reload();
    await page.getByRole('button', { name: 'Reveal name' }).waitFor();
    expect(await page.locator('.facts').textContent()).not.toContain('dr.lee');
    await page.goto(`${server.url}/violations`);
    await row.waitFor();
    expect(await row.textContent()).not.toContain('dr.lee');
    expect(errors).toEqual([]);
  });
});
