/**
 * The console's admin screens end to end: a real server (port 0, temp SQLite, its own
 * policies folder), real agent connections, Debian's Chromium. An admin creates a site
 * secret and copies its install line (which then really enrols an agent into that site),
 * revokes a token (which then gets 401), sees a broken policy edit's file and line; one
 * form is used with the keyboard only; a lead sees no admin actions. Screenshots go to
 * test-results/admin-*.png.
 */
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { packageRoot } from '../../shared/paths.js';
import { createStore } from '../../server/store/index.js';
import { a11yGaps, hasChromium, launchChromium, NO_CHROMIUM, screenshot, VIEWPORT, watchErrors } from '../support/browser.js';
import { startTestServer, tempDir, type TestServer } from '../support/server.js';
import { connectRaw, helloFrame } from '../support/ws-client.js';

if (!hasChromium) console.warn(NO_CHROMIUM);

const ADMIN = { name: 'ada.admin', password: 'correct horse battery staple' };
const LEAD = { name: 'sam.lead', password: 'another horse battery staple' };

let server: TestServer;
let adminToken: string;
let policiesDir: string;
let browser: Browser;

async function signedIn(user: { name: string; password: string }): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  const context = await browser.newContext({ viewport: VIEWPORT });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
  const page = await context.newPage();
  const errors = watchErrors(page);
  await page.goto(`${server.url}/login`);
  await page.getByLabel('Username').fill(user.name);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/violations/, { timeout: 15_000 });
  return { context, page, errors };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe.skipIf(!hasChromium)('admin screens in Chromium', () => {
  beforeAll(async () => {
    policiesDir = tempDir('cg-e2e-policies-');
    cpSync(join(packageRoot(), 'policies', 'demo', 'default.yaml'), join(policiesDir, 'default.yaml'));
    const dataDir = tempDir('cg-e2e-admin-');
    const store = createStore(dataDir);
    await store.users.add(ADMIN.name, 'admin', ADMIN.password);
    await store.users.add(LEAD.name, 'lead', LEAD.password);
    adminToken = (await store.apiTokens.create('admin', 'e2e-admin')).token;
    await store.close();
    server = await startTestServer({ dataDir, policiesDir });
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('an admin creates a site secret and copies its Windows install line, which enrols an agent into that site', async () => {
    const { context, page, errors } = await signedIn(ADMIN);
    await page.getByRole('link', { name: 'Admin' }).click();
    await page.waitForURL(/\/admin\/secrets$/);
    await page.getByLabel('Site').fill('north');
    await page.getByRole('button', { name: 'Create secret' }).click();
    const heading = page.getByRole('heading', { name: /Secret for site north: shown once/ });
    await heading.waitFor();
    // Focus moves to what was made, so a screen reader reads it next.
    expect(await page.evaluate(() => (globalThis as any).document.activeElement?.textContent)).toMatch(/Secret for site north/);
    const secret = (await page.locator('pre.copy-text.secret').textContent())!.trim();
    expect(secret.length).toBeGreaterThan(20);

    await page.getByRole('button', { name: 'Copy Windows install line' }).click();
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'Copied the Windows install line' }).count()).toBe(1);
    const copied = await page.evaluate(() => (globalThis as any).navigator.clipboard.readText() as Promise<string>);
    const serverUrl = server.url.replace('http:', 'ws:');
    expect(copied).toContain(`SERVER_URL=${serverUrl}`);
    expect(copied).toContain(`ENROLL_SECRET=${secret}`);
    expect(copied).toContain('SITE=north');
    expect(copied).toMatch(/^msiexec \/i consultguard-agent-\d+\.\d+\.\d+-x64\.msi \/qn /);
    // The Jamf and deb lines carry the same values.
    expect(await page.locator('pre[aria-label="Jamf property list"]').textContent()).toContain(`<key>enrollSecret</key><string>${secret}</string>`);
    expect(await page.locator('pre[aria-label="Linux install line"]').textContent()).toContain(`"serverUrl":"${serverUrl}"`);
    await expect.poll(() => page.locator('#secrets-table tbody tr').filter({ hasText: 'north' }).count()).toBe(1);
    expect(await a11yGaps(page)).toEqual([]);
    await screenshot(page, 'admin-secrets', true);

    // The copied values are the real thing: an agent using them lands in site north.
    const c = await connectRaw(`${serverUrl}/agent`);
    const hello = helloFrame({ enrollSecret: secret, site: 'elsewhere' });
    c.send(hello);
    expect((await c.next('welcome')).agentId).toBe(hello.agentId);
    c.close();
    const agents = (await server.fetchJson('/api/agents')).body.items as Array<{ agentId: string; site: string }>;
    expect(agents.find((a) => a.agentId === hello.agentId)?.site).toBe('north');
    expect(errors).toEqual([]);
    await context.close();
  }, 60_000);

  it('an admin revokes a token on the tokens screen, and the token then gets 401', async () => {
    const made = await fetch(`${server.url}/api/tokens`, { method: 'POST', headers: { ...bearer(adminToken), 'content-type': 'application/json' }, body: JSON.stringify({ role: 'lead', name: 'siem-export' }) });
    const { token } = (await made.json()) as { token: string };
    expect((await fetch(`${server.url}/api/violations`, { headers: bearer(token) })).status).toBe(200);

    const { context, page, errors } = await signedIn(ADMIN);
    await page.goto(`${server.url}/admin/tokens`);
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: 'Revoke token siem-export' }).click();
    await page.getByRole('status').filter({ hasText: 'Token siem-export revoked' }).waitFor();
    await expect.poll(() => page.locator('#tokens-table tr', { hasText: 'siem-export' }).textContent()).toMatch(/Revoked/);
    const res = await fetch(`${server.url}/api/violations`, { headers: bearer(token) });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
    const audit = (await server.fetchJson('/api/audit', adminToken)).body.items as Array<{ actor: string; action: string }>;
    expect(audit.find((e) => e.action === 'token-revoke')?.actor).toBe(ADMIN.name);
    expect(errors).toEqual([]);
    await context.close();
  }, 60_000);

  it('the policies screen names a broken edit\'s file and line, and shows the week grid of what stays in force', async () => {
    const { context, page, errors } = await signedIn(ADMIN);
    writeFileSync(join(policiesDir, 'branch.yaml'), [
      'version: 1', 'name: branch', 'assign:', '  sites: [north]', 'timezone: Australia/Sydney', 'consultHours:',
      '  - days: [mon, tue]', '    from: "08:00"', '    to: "25:00"', 'monitor: all', 'approved:', '  name: Coviu', '  url: https://coviu.com/', '',
    ].join('\n'));
    await vi.waitFor(async () => expect((await server.fetchJson('/api/policies')).body.error).not.toBeNull(), { timeout: 10_000, interval: 100 });
    await page.getByRole('link', { name: 'Policies' }).click();
    const alert = page.locator('#policy-error [role="alert"]');
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/The last edit of .*branch\.yaml, line 9, was not loaded/);
    expect(await alert.textContent()).toMatch(/HH:MM/);
    // The demo policy stays in force: every day, all day.
    expect(await page.locator('.week-grid tbody tr', { hasText: 'Monday' }).textContent()).toContain('00:00–24:00');
    expect(await page.locator('.week-grid .hour.on').count()).toBe(7 * 24);
    expect(await a11yGaps(page)).toEqual([]);
    await screenshot(page, 'admin-policies', true);
    expect(errors).toEqual([]);
    await context.close();
  }, 60_000);

  it('the add-user form works with the keyboard alone: Tab order, Enter submits, focus comes back', async () => {
    const { context, page, errors } = await signedIn(ADMIN);
    await page.goto(`${server.url}/admin/users`);
    await page.locator('#users-table tbody tr').first().waitFor();
    const active = () => page.evaluate(() => {
      const el = (globalThis as any).document.activeElement;
      return el ? `${el.tagName.toLowerCase()}${el.name ? `[${el.name}]` : ''}:${(el.labels?.[0]?.textContent ?? el.textContent ?? '').trim().slice(0, 30)}` : '';
    });
    // From the top of the page, Tab until the form's first field (skip link, nav, sub-nav come first).
    const seen: string[] = [];
    for (let i = 0; i < 40 && !(await active()).startsWith('input[name]:User name'); i++) {
      await page.keyboard.press('Tab');
      seen.push(await active());
    }
    expect(seen.at(-1)).toBe('input[name]:User name');
    expect(seen.slice(0, 1)).toEqual(['a:Skip to content']);
    expect(seen).toContain('a:Users');
    await page.keyboard.type('kim.nurse');
    await page.keyboard.press('Tab');
    expect(await active()).toBe('select[role]:Role');
    await page.keyboard.press('ArrowDown'); // lead -> admin
    await page.keyboard.press('Tab');
    expect(await active()).toBe('input[password]:Password');
    await page.keyboard.type('a long keyboard password');
    await page.keyboard.press('Tab');
    expect(await active()).toBe('button:Save user');
    await page.keyboard.press('Enter');
    await page.getByRole('status').filter({ hasText: 'User kim.nurse saved as admin.' }).waitFor();
    await expect.poll(active).toBe('input[name]:User name');
    const users = (await server.fetchJson('/api/users', adminToken)).body.items as Array<{ name: string; role: string }>;
    expect(users.find((u) => u.name === 'kim.nurse')?.role).toBe('admin');
    expect(await a11yGaps(page)).toEqual([]);
    expect(errors).toEqual([]);
    await context.close();
  }, 60_000);

  it('an admin moves an agent to a site on the agents screen, then finds it in the audit log and its CSV', async () => {
    const c = await connectRaw(server.wsUrl);
    const hello = helloFrame({ enrollSecret: 'test-enrolment-secret-0123456789', host: { hostname: 'ROOM-7-PC', platform: 'linux', osVersion: '6.1', agentVersion: '0.1.0' } });
    c.send(hello);
    await c.next('welcome');
    const { context, page, errors } = await signedIn(ADMIN);
    await page.goto(`${server.url}/admin/agents`);
    await page.locator('#agents-table tbody tr', { hasText: 'ROOM-7-PC' }).waitFor();
    await page.getByLabel('Agent').selectOption({ label: `ROOM-7-PC (${hello.agentId.slice(0, 8)})` });
    await page.getByLabel('Site').fill('west');
    await page.getByLabel('Group').fill('physio');
    await page.getByRole('button', { name: 'Move agent' }).click();
    await page.getByRole('status').filter({ hasText: 'Moved to site west, group physio' }).waitFor();
    await expect.poll(() => page.locator('#agents-table tbody tr', { hasText: 'ROOM-7-PC' }).textContent()).toMatch(/west.*physio/);
    c.close();

    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.getByLabel('Action').fill('agent-assign');
    await page.getByRole('button', { name: 'Filter' }).click();
    await expect.poll(() => page.locator('#audit-table tbody tr').count()).toBe(1);
    expect(await page.locator('#audit-table tbody tr').textContent()).toContain(ADMIN.name);
    const href = await page.getByRole('link', { name: 'Export CSV' }).getAttribute('href');
    expect(href).toBe('/api/audit.csv?action=agent-assign');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Export CSV' }).click()]);
    const lines = readFileSync((await download.path())!, 'utf8').trim().split('\r\n');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain(`${ADMIN.name},agent-assign,`);
    expect(await a11yGaps(page)).toEqual([]);
    expect(errors).toEqual([]);
    await context.close();
  }, 60_000);

  it('a lead sees no admin actions: no Admin link, admin pages say so, policies read-only', async () => {
    const { context, page, errors } = await signedIn(LEAD);
    // The shell is drawn once the session and app names are in: wait for it, then look.
    const nav = page.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: 'Policies' }).waitFor();
    expect(await nav.getByRole('link', { name: 'Admin' }).count()).toBe(0);
    expect(await nav.getByRole('link').allTextContents()).toEqual(['Violations', 'Fleet', 'Trends', 'Report', 'Policies']);
    for (const p of ['secrets', 'tokens', 'users', 'agents', 'audit']) {
      await page.goto(`${server.url}/admin/${p}`);
      await page.getByText('This page is for administrators.').waitFor();
      expect(await page.locator('main button, main form').count(), p).toBe(0);
    }
    await page.goto(`${server.url}/policies`);
    await page.locator('.policy-card').first().waitFor();
    expect(await page.locator('main button, main form').count()).toBe(0);
    expect(errors).toEqual([]);
    await context.close();
  }, 60_000);
});
