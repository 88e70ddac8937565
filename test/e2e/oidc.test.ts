/**
 * Single sign-on in Chromium: a real OpenID provider (oidc-provider on a loopback port), a
 * real server with a real SQLite file, Debian's Chromium. From the sign-in page a person
 * clicks "Sign in with Test IdP", signs in on the provider's login page, agrees on its
 * consent page and lands on the dashboard with the role its groups give (an admin sees
 * Admin, a lead does not); one in no mapped group sees the refusal page. Screenshots go to
 * test-results/oidc-*.png.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasChromium, launchChromium, NO_CHROMIUM, screenshot, VIEWPORT, watchErrors } from '../support/browser.js';
import { freePort, oidcOptions, startOidcProvider, type TestProvider } from '../support/oidc-provider.js';
import { startTestServer, type TestServer } from '../support/server.js';

if (!hasChromium) console.warn(NO_CHROMIUM);

let provider: TestProvider;
let server: TestServer;
let browser: Browser;

/**
 * Console errors from ConsultGuard's own pages and assets; the provider's development pages
 * ask for web fonts that a closed network cannot resolve, which is not ours to judge.
 */
function ourErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    const where = msg.location().url;
    // A 401 is the dashboard asking whether it is signed in yet (as watchErrors allows).
    if (msg.type() === 'error' && where.startsWith(server.url) && !/status of 401/.test(msg.text())) errors.push(`console: ${msg.text()} (${where})`);
  });
  return errors;
}

/** From the dashboard's sign-in page through the provider's login and consent pages. */
async function signIn(page: Page, login: string, from = '/login'): Promise<void> {
  await page.goto(`${server.url}${from}`);
  await page.getByRole('link', { name: 'Sign in with Test IdP' }).click();
  await page.waitForURL((u) => u.origin === provider.issuer && u.pathname.startsWith('/interaction/'));
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill('whatever the provider checks');
  await page.getByRole('button', { name: 'Sign-in' }).click();
  // The consent page ("Authorize"), then back to ConsultGuard.
  await page.getByRole('button', { name: 'Continue' }).click();
}

describe.skipIf(!hasChromium)('single sign-on in Chromium', () => {
  beforeAll(async () => {
    const port = await freePort();
    provider = await startOidcProvider({
      redirectUris: [`http://127.0.0.1:${port}/auth/oidc/callback`],
      accounts: {
        'sub-ada': { preferred_username: 'ada', groups: ['cg-admins'] },
        'sub-sam': { preferred_username: 'sam', groups: ['cg-leads'] },
        'sub-ned': { preferred_username: 'ned', groups: ['staff'] },
      },
    });
    server = await startTestServer({ port, ...oidcOptions(provider, port) });
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await provider?.close();
  });

  it('the sign-in page offers the provider beside the local form', async () => {
    const context = await browser.newContext({ viewport: VIEWPORT });
    const page = await context.newPage();
    const errors = watchErrors(page);
    await page.goto(`${server.url}/login`);
    await page.getByRole('link', { name: 'Sign in with Test IdP' }).waitFor();
    expect(await page.getByLabel('Username').isVisible()).toBe(true);
    expect(await page.getByRole('button', { name: 'Sign in', exact: true }).isVisible()).toBe(true);
    await screenshot(page, 'oidc-login-page');
    expect(errors).toEqual([]);
    await context.close();
  });

  it('an admin-group member signs in through the provider and lands on the dashboard as admin', async () => {
    const context = await browser.newContext({ viewport: VIEWPORT });
    const page = await context.newPage();
    const errors = ourErrors(page);
    await signIn(page, 'sub-ada', '/fleet');
    // The page it asked for before signing in (the sign-in page's next=), once signed in.
    await page.waitForURL(`${server.url}/fleet`, { timeout: 15_000 });
    await page.getByText('Signed in as').waitFor();
    expect(await page.locator('.who-name').textContent()).toBe('Signed in as sso:ada (admin)');
    expect(await page.getByRole('link', { name: 'Admin' }).count()).toBe(1);
    const cookies = await context.cookies(server.url);
    const sessionCookie = cookies.find((c) => c.name === 'cg_session')!;
    expect(sessionCookie).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    expect(cookies.find((c) => c.name === 'cg_oidc'), 'the state cookie is gone once used').toBeUndefined();
    await screenshot(page, 'oidc-admin-dashboard');
    expect(errors).toEqual([]);
    await context.close();
  });

  it('a lead-group member lands as lead: no Admin, and the server refuses admin routes', async () => {
    const context = await browser.newContext({ viewport: VIEWPORT });
    const page = await context.newPage();
    await signIn(page, 'sub-sam');
    await page.waitForURL(`${server.url}/violations`, { timeout: 15_000 });
    await page.getByText('Signed in as').waitFor();
    expect(await page.locator('.who-name').textContent()).toBe('Signed in as sso:sam (lead)');
    expect(await page.getByRole('link', { name: 'Admin' }).count()).toBe(0);
    const status = await page.evaluate(async () => (await fetch('/api/users')).status);
    expect(status).toBe(403);
    await context.close();
  });

  it('an admin sees single sign-on users on the Users screen and disables one, who is then refused at the provider\'s return', async () => {
    const context = await browser.newContext({ viewport: VIEWPORT });
    const page = await context.newPage();
    await signIn(page, 'sub-ada', '/admin/users');
    await page.waitForURL(`${server.url}/admin/users`, { timeout: 15_000 });
    const row = page.getByRole('row', { name: /sso:sam/ });
    await row.waitFor();
    expect(await row.getByRole('cell').first().textContent()).toBe('lead (single sign-on)');
    // Passwords are for local users only: the reset form does not offer a single sign-on user.
    expect(await page.locator('#reset-form option', { hasText: 'sso:' }).count()).toBe(0);
    page.once('dialog', (d) => void d.accept());
    await row.getByRole('button', { name: 'Disable sso:sam' }).click();
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'sso:sam is disabled' }).count()).toBe(1);
    await context.close();

    const other = await browser.newContext({ viewport: VIEWPORT });
    const refused = await other.newPage();
    await signIn(refused, 'sub-sam');
    await refused.getByRole('heading', { name: 'Sign-in refused' }).waitFor();
    expect(await refused.getByRole('alert').textContent()).toMatch(/Your ConsultGuard account \(sso:sam\) is disabled/);
    await other.close();
  });

  it('a member of no mapped group sees a refusal page that says what to do', async () => {
    const context = await browser.newContext({ viewport: VIEWPORT });
    const page = await context.newPage();
    await signIn(page, 'sub-ned');
    await page.getByRole('heading', { name: 'Sign-in refused' }).waitFor();
    expect(await page.getByRole('alert').textContent()).toMatch(/Test IdP signed you in as ned, but your account is in none of the groups/);
    expect((await context.cookies(server.url)).some((c) => c.name === 'cg_session')).toBe(false);
    await screenshot(page, 'oidc-refused');
    await page.getByRole('link', { name: 'Back to sign-in' }).click();
    await page.getByRole('link', { name: 'Sign in with Test IdP' }).waitFor();
    await context.close();
  });
});
