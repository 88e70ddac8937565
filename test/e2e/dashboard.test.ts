/**
 * The dashboard end to end: a real server (port 0, temp SQLite), a real test agent on the
 * WebSocket, and Debian's Chromium driving the built pages. Screenshots of every page go
 * to test-results/ (1366x768) for a person to look at.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createStore } from '../../server/store/index.js';
import { a11yGaps, hasChromium, launchChromium, NO_CHROMIUM, screenshot, VIEWPORT, watchErrors } from '../support/browser.js';
import { startTestServer, tempDir, TEST_SECRET, type TestServer } from '../support/server.js';
import { connectRaw, eventFrame, helloFrame, makeEvent, type RawClient } from '../support/ws-client.js';

if (!hasChromium) console.warn(NO_CHROMIUM);

const USER = 'sam.lead';
const PASSWORD = 'correct horse battery staple';
const LIVE = { violationId: randomUUID(), hostname: 'FRONT-DESK-02', evidence: 'process FaceTime (pid 811)' };

let server: TestServer;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let errors: string[];
let agent: RawClient;
let agentId: string;
let batch = 0;

async function enrol(hostname: string, site: string): Promise<RawClient & { agentId: string }> {
  const c = await connectRaw(server.wsUrl);
  const hello = helloFrame({ enrollSecret: TEST_SECRET, site, host: { hostname, platform: 'win32', osVersion: '10.0.22631', agentVersion: '0.1.0' } });
  c.send(hello);
  expect((await c.next()).type).toBe('welcome');
  return Object.assign(c, { agentId: hello.agentId });
}

async function report(c: RawClient, events: Array<Record<string, unknown>>): Promise<void> {
  batch += 1;
  c.send(eventFrame(batch, events));
  await c.next('ack');
}

async function login(p: Page, password = PASSWORD, user = USER): Promise<void> {
  await p.getByLabel('Username').fill(user);
  await p.getByLabel('Password').fill(password);
  await p.getByRole('button', { name: 'Sign in' }).click();
}

/**
 * Each test starts from its own page and sets up what it needs, so one failure is one
 * failing test, not ten: `open` signs in when the page asks for it (the login page keeps
 * ?next=), `ensureLive` reports the live FaceTime violation if its own test did not.
 */
async function open(path: string): Promise<void> {
  await page.goto(`${server.url}${path}`);
  // Signed in: the top bar names the user; signed out: the app sends the page to /login.
  const signedIn = await Promise.race([
    page.locator('.who').waitFor().then(() => true),
    page.waitForURL(/\/login\?next=/).then(() => false),
  ]);
  if (!signedIn) {
    await login(page);
    await page.waitForURL(`${server.url}${path}`);
    await page.locator('.who').waitFor();
  }
}

let liveReported = false;
async function ensureLive(): Promise<void> {
  if (liveReported) return;
  liveReported = true;
  await report(agent, [makeEvent({ violationId: LIVE.violationId, app: 'facetime', state: 'in-call', user: 'CLINIC\\dr.lee', evidence: [LIVE.evidence] })]);
  await reportLiveNudges();
}

async function reportLiveNudges(): Promise<void> {
  batch += 1;
  agent.send({ type: 'nudges', batch, nudges: ['shown', 'clicked'].map((outcome, i) => ({ id: randomUUID(), violationId: LIVE.violationId, app: 'facetime', outcome, at: new Date(Date.now() + i).toISOString() })) });
  await agent.next('ack');
}

function feedRows(p: Page) {
  return p.locator('#violations-table tbody tr[data-id]');
}

describe.skipIf(!hasChromium)('dashboard in Chromium', () => {
  beforeAll(async () => {
    const dataDir = tempDir('cg-e2e-');
    const store = createStore(dataDir);
    await store.users.add(USER, 'lead', PASSWORD);
    await store.close();
    server = await startTestServer({ dataDir });
    browser = await launchChromium();

    // History before the page opens: two apps, both states, and a second workstation
    // that goes quiet (offline during consult hours: "silent" on the fleet page).
    const north = await enrol('NORTH-PC-01', 'north');
    agent = north;
    agentId = north.agentId;
    agent.send({ type: 'status', at: new Date().toISOString(), monitoring: true, policyVersion: 'demo-1' });
    const t = (minAgo: number) => new Date(Date.now() - minAgo * 60_000).toISOString();
    const zoomCall = randomUUID();
    await report(agent, [
      makeEvent({ app: 'zoom', state: 'running', at: t(50), evidence: ['process Zoom.exe (pid 4120)'] }),
      makeEvent({ violationId: zoomCall, app: 'zoom', state: 'in-call', at: t(40), evidence: ['process Zoom.exe', 'udp 8801 -> 170.114.10.1 (zoom media)'] }),
      makeEvent({ violationId: zoomCall, kind: 'ended', app: 'zoom', state: 'in-call', at: t(25), evidence: [] }),
      makeEvent({ app: 'whatsapp', state: 'in-call', at: t(30), user: 'CLINIC\\n.okafor', evidence: ['process WhatsApp.exe'] }),
    ]);
    const quiet = await enrol('SOUTH-PC-07', 'south');
    quiet.close();
    await quiet.closed;

    context = await browser.newContext({ viewport: VIEWPORT, acceptDownloads: true, reducedMotion: 'reduce' });
    page = await context.newPage();
    page.setDefaultTimeout(8000); // fail fast: a missing row should not eat the whole suite's time
    errors = watchErrors(page);
  });

  // Console errors are counted per test, so one test's failure is not blamed on the next.
  beforeEach(() => {
    if (errors) errors.length = 0;
  });

  afterAll(async () => {
    agent?.close();
    await browser?.close();
    await server?.close();
  });

  it('refuses a wrong password with a visible message', async () => {
    await page.goto(`${server.url}/login`);
    await login(page, 'not the password');
    // A password check is a real scrypt (~100 ms, much more on a loaded machine): wait like a person would.
    await expect.poll(() => page.locator('#login-error').textContent(), { timeout: 8000 }).toMatch(/Wrong username or password/);
    expect(await page.locator('#login-error').getAttribute('role')).toBe('alert');
    await screenshot(page, 'e2e-login-wrong-password');
  });

  it('says so when sign-in is locked after repeated failures', async () => {
    for (let i = 0; i < 5; i++) {
      await fetch(`${server.url}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'mallory', password: `guess-${i}` }) });
    }
    await page.goto(`${server.url}/login`);
    await login(page, 'one more guess', 'mallory');
    await expect.poll(() => page.locator('#login-error').textContent(), { timeout: 8000 }).toMatch(/Too many failed sign-in attempts/);
  });

  it('sends an unauthenticated page load to the login page, and back to it after login', async () => {
    await page.goto(`${server.url}/violations?state=in-call`);
    await page.waitForURL(/\/login\?next=/);
    expect(new URL(page.url()).searchParams.get('next')).toBe('/violations?state=in-call');
    await screenshot(page, 'e2e-login');
    await login(page);
    await page.waitForURL(`${server.url}/violations?state=in-call`);
    await expect.poll(() => feedRows(page).count()).toBe(2);
    await expect.poll(() => page.locator('.who').textContent()).toContain(USER);
  });

  it('shows a violation reported by an agent live, without a reload', async () => {
    await open('/violations');
    await expect.poll(() => feedRows(page).count()).toBe(3);
    await page.locator('.live-status.live-live').waitFor();
    await page.evaluate(() => ((globalThis as unknown as Record<string, unknown>).notReloaded = true));

    liveReported = true;
    await report(agent, [makeEvent({ violationId: LIVE.violationId, app: 'facetime', state: 'in-call', user: 'CLINIC\\dr.lee', evidence: [LIVE.evidence] })]);
    const row = page.locator(`#violations-table tbody tr[data-id="${LIVE.violationId}"]`);
    await row.waitFor({ timeout: 5000 });
    expect(await page.evaluate(() => (globalThis as unknown as Record<string, unknown>).notReloaded)).toBe(true);
    // The clinician as a pseudonym (issue 14), never the reported name.
    expect(await row.textContent()).toMatch(/FaceTime.*In call.*clinician-[0-9a-f]{8}.*NORTH-PC-01.*north/);
    expect(await row.textContent()).not.toContain('dr.lee');
    expect(await row.textContent()).toContain('ongoing');
    await expect.poll(() => page.locator('#feed-announcer').textContent()).toMatch(/New violation: FaceTime/);
    // Newest first: the live row is on top.
    expect(await feedRows(page).first().getAttribute('data-id')).toBe(LIVE.violationId);

    // The agent reports the clinician was nudged and opened the approved app.
    await reportLiveNudges();
    await expect.poll(() => row.textContent()).toContain('Shown, clicked');
    await screenshot(page, 'e2e-violations-live');
  });

  it('filters by app and state; the filters live in the URL and survive a reload', async () => {
    await open('/violations');
    await page.getByLabel('App').selectOption('zoom');
    await page.waitForURL(/app=zoom/);
    await expect.poll(async () => (await feedRows(page).locator('th').allTextContents()).map((s) => s.split(',')[0])).toEqual(['Zoom', 'Zoom']);
    await page.getByLabel('State').selectOption('in-call');
    await page.waitForURL(/state=in-call/);
    await expect.poll(() => feedRows(page).count()).toBe(1);
    await page.reload();
    await expect.poll(() => feedRows(page).count()).toBe(1);
    expect(await page.getByLabel('App').inputValue()).toBe('zoom');
    expect(await page.getByLabel('State').inputValue()).toBe('in-call');
    expect(await a11yGaps(page)).toEqual([]);
    await screenshot(page, 'e2e-violations-filtered');
  });

  it('exports the current filter as CSV', async () => {
    await open('/violations?app=zoom');
    await expect.poll(() => feedRows(page).count()).toBe(2);
    const href = await page.locator('#export-csv').getAttribute('href');
    expect(href).toMatch(/^\/api\/violations\.csv\?.*app=zoom/);
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#export-csv').click()]);
    const lines = readFileSync(await download.path(), 'utf8').trim().split(/\r?\n/);
    const header = lines[0]!.split(',');
    expect(header).toEqual(expect.arrayContaining(['id', 'hostname', 'app', 'state']));
    const appCol = header.indexOf('app');
    expect(lines.slice(1).map((l) => l.split(',')[appCol])).toEqual(['zoom', 'zoom']);
    // The display name people know sits beside the stable id.
    expect(lines.slice(1).map((l) => l.split(',')[header.indexOf('appName')])).toEqual(['Zoom', 'Zoom']);
  });

  it('opens a violation with its evidence and timeline, and acknowledges it with a note', async () => {
    await ensureLive();
    await open('/violations?app=zoom');
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await page.waitForURL(`${server.url}/violations`);
    // By keyboard: the row's link takes focus and Enter opens the detail.
    await page.locator(`tr[data-id="${LIVE.violationId}"] a`).focus();
    await page.keyboard.press('Enter');
    // Addressed by agent and id: violationIds are unique per agent only.
    await page.waitForURL(`${server.url}/violations/${agentId}/${LIVE.violationId}`);
    await page.locator('#evidence').waitFor();
    expect(await page.locator('h1').textContent()).toBe('FaceTime on NORTH-PC-01');
    expect(await page.locator('#evidence').textContent()).toContain(LIVE.evidence);
    const timeline = page.locator('#timeline');
    expect(await timeline.textContent()).toMatch(/Started[\s\S]*Nudge shown[\s\S]*Nudge clicked/);
    expect(await a11yGaps(page)).toEqual([]);
    await screenshot(page, 'e2e-violation-detail', true);

    await page.getByLabel('Resolve').check();
    await page.getByLabel('Note', { exact: true }).fill('Spoke with Dr Lee <b>; consult moved to the approved app.');
    await page.getByRole('button', { name: 'Save review' }).click();
    await expect.poll(() => page.locator('.notice-ok').textContent()).toContain('resolved');
    await expect.poll(() => timeline.textContent()).toMatch(/Resolved by sam\.lead[\s\S]*Spoke with Dr Lee <b>; consult moved/);
    // Server strings are text: the note's "<b>" is shown, not parsed.
    expect(await timeline.locator('b').count()).toBe(0);
    await screenshot(page, 'e2e-violation-resolved', true);

    const stored = await server.fetchJson(`/api/violations/${agentId}/${LIVE.violationId}`);
    expect(stored.body.violation.ack).toMatchObject({ status: 'resolved', by: USER });

    await page.getByRole('link', { name: '← All violations' }).click();
    await expect.poll(() => page.locator(`tr[data-id="${LIVE.violationId}"]`).textContent()).toContain('Resolved');
  });

  it('shows a clinician\'s exception on the violation, and a lead accepts it from the panel', async () => {
    batch += 1;
    agent.send({ type: 'nudges', batch, nudges: [{ id: randomUUID(), violationId: LIVE.violationId, app: 'facetime', outcome: 'exception', at: new Date().toISOString(), reason: 'patient-cannot-use', until: new Date(Date.now() + 30 * 60_000).toISOString(), detail: 'exception claimed: The patient cannot use the approved app' }] });
    await agent.next('ack');
    await page.goto(`${server.url}/violations`);
    const row = page.locator(`tr[data-id="${LIVE.violationId}"]`);
    await expect.poll(() => row.textContent()).toContain('exception claimed: The patient cannot use the approved app');
    await page.goto(`${server.url}/violations/${agentId}/${LIVE.violationId}`);
    const panel = page.locator('.exception-panel');
    await panel.waitFor();
    expect(await panel.textContent()).toContain('exception claimed: The patient cannot use the approved app');
    expect(await page.locator('#timeline').textContent()).toContain('Exception claimed by the clinician');
    await page.getByLabel('Note (kept in the audit trail)').fill('no smartphone at home');
    await page.getByRole('button', { name: 'Accept exception' }).click();
    await expect.poll(() => page.locator('.exception-panel').textContent()).toMatch(/exception accepted[\s\S]*Accepted by sam\.lead[\s\S]*no smartphone at home/);
    expect(await a11yGaps(page)).toEqual([]);
    const stored = await server.fetchJson(`/api/violations/${agentId}/${LIVE.violationId}`);
    expect(stored.body.violation.exception).toMatchObject({ decision: 'accepted', decidedBy: USER, note: 'no smartphone at home' });
  });

  it('shows the fleet with the silent agent standing out', async () => {
    await open('/violations');
    await page.getByRole('link', { name: 'Fleet' }).click();
    await page.waitForURL(`${server.url}/fleet`);
    const silent = page.locator('#fleet-table tr.row-silent');
    await silent.first().waitFor();
    expect(await silent.textContent()).toMatch(/SOUTH-PC-07.*in consult hours/);
    expect(await page.locator('#fleet-table').textContent()).toMatch(/NORTH-PC-01.*Online.*In consult hours/);
    expect(await page.getByRole('alert').textContent()).toMatch(/1 agent is silent during consult hours/);
    await screenshot(page, 'e2e-fleet');
  });

  it('shows trends with charts and top lists', async () => {
    await ensureLive();
    await open('/violations');
    await page.getByRole('link', { name: 'Trends' }).click();
    await page.locator('#chart-by-app canvas').waitFor();
    await page.locator('#chart-in-call canvas').waitFor();
    expect(await page.locator('#stat-total').textContent()).toBe('4');
    expect(await page.locator('#top-workstations').textContent()).toContain('NORTH-PC-01');
    expect(await page.locator('#top-sites').textContent()).toContain('north');
    expect(await a11yGaps(page)).toEqual([]);
    await screenshot(page, 'e2e-trends', true);
  });

  it('prints a summary report for a date range', async () => {
    await ensureLive();
    await open('/violations');
    const today = new Date();
    const day = `${today.getFullYear()}-${String(today.getMonth() + 1).padStart(2, '0')}-${String(today.getDate()).padStart(2, '0')}`;
    await page.goto(`${server.url}/report?since=${day}&until=${day}`);
    await page.locator('#report').waitFor();
    expect(await page.locator('#report-totals').textContent()).toMatch(/Violations\s*4/);
    expect(await page.locator('#report-by-app').textContent()).toMatch(/Zoom\s*2/);
    expect(await page.locator('#report-generated').textContent()).toContain(`by ${USER}`);
    await screenshot(page, 'e2e-report', true);
    await page.emulateMedia({ media: 'print' });
    expect(await page.locator('.topbar').isVisible()).toBe(false);
    await screenshot(page, 'e2e-report-print', true);
    await page.emulateMedia({ media: 'screen' });
  });

  it('logs out, and the pages need a login again', async () => {
    await open('/violations');
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL(/\/login$/);
    expect(await page.getByRole('status').textContent()).toContain('signed out');
    await page.goto(`${server.url}/fleet`);
    await page.waitForURL(/\/login\?next=%2Ffleet/);
    expect(errors).toEqual([]);
  });

  it('tells apart two agents that reported the same violationId: each row opens its own violation', async () => {
    await ensureLive();
    await open('/fleet');
    // A link from before (by id alone) still lands on the violation while only one agent has that id.
    await page.goto(`${server.url}/violations/${LIVE.violationId}`);
    await page.waitForURL(`${server.url}/violations/${agentId}/${LIVE.violationId}`);
    const twin = await enrol('EAST-PC-03', 'east');
    try {
      await page.goto(`${server.url}/violations`);
      await page.locator('.live-status.live-live').waitFor();
      await report(twin, [makeEvent({ violationId: LIVE.violationId, app: 'whatsapp', state: 'running', evidence: ['process WhatsApp.exe'] })]);
      const same = page.locator(`#violations-table tbody tr[data-id="${LIVE.violationId}"]`);
      await expect.poll(() => same.count()).toBe(2); // pushed live as a second row, not merged into the first
      const twinRow = page.locator(`tr[data-id="${LIVE.violationId}"][data-agent="${twin.agentId}"]`);
      expect(await twinRow.textContent()).toMatch(/WhatsApp.*EAST-PC-03/);
      await twinRow.locator('a').click();
      await page.waitForURL(`${server.url}/violations/${twin.agentId}/${LIVE.violationId}`);
      await page.locator('#evidence').waitFor();
      expect(await page.locator('h1').textContent()).toBe('WhatsApp on EAST-PC-03');
      // The first agent's violation with this id was resolved; this one was not.
      expect(await page.locator('.ack-panel').textContent()).toContain('Nobody has reviewed this violation yet.');
      expect(await page.locator('#timeline').textContent()).not.toMatch(/Resolved/);
      expect(errors).toEqual([]);
      // Now the old link is ambiguous: the page says so instead of picking one (the
      // browser logs that 400, as it logs any failed fetch).
      await page.goto(`${server.url}/violations/${LIVE.violationId}`);
      await expect.poll(() => page.locator('.detail').textContent()).toMatch(/More than one workstation/);
      expect(errors.filter((e) => !/status of 400/.test(e))).toEqual([]);
    } finally {
      twin.close();
    }
  });
});
