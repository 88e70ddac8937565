/**
 * Headless Chromium for end-to-end tests: Debian's `chromium` driven by playwright-core
 * (no browser download). Playwright gives every launch a fresh, empty user-data-dir.
 * Without Chromium the suites skip, and say so with the install command.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { packageRoot } from '../../shared/paths.js';

const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM_PATH);
export const NO_CHROMIUM = `end-to-end tests SKIPPED: no Chromium at ${CHROMIUM_PATH}; install it with \`apt-get install -y chromium\` (Debian) or set CHROMIUM_PATH`;

/** The flags this machine needs: no sandbox as root, and no background calls to Google's hosts on a closed network. */
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export const VIEWPORT = { width: 1366, height: 768 };
const SCREENSHOT_DIR = join(packageRoot(), 'test-results');

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, chromiumSandbox: false, args: FLAGS });
}

/** Saves test-results/NAME.png (the viewport, or the whole page). */
export async function screenshot(page: Page, name: string, fullPage = false): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage });
  return path;
}

/**
 * Collects what would show in the browser console as a bug: uncaught exceptions and
 * console errors, except the failed-resource lines a 401 or 429 answer prints.
 */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !/Failed to load resource: the server responded with a status of (401|429)/.test(msg.text())) errors.push(`console: ${msg.text()}`);
  });
  return errors;
}

/** Form controls without a label, and table headers without a scope: both should be none. */
export function a11yGaps(p: Page): Promise<string[]> {
  return p.evaluate(() => {
    const d = (globalThis as any).document;
    const gaps: string[] = [];
    for (const el of d.querySelectorAll('input, select, textarea')) {
      if (el.type !== 'hidden' && el.labels.length === 0 && !el.getAttribute('aria-label')) gaps.push(`unlabelled ${el.tagName} #${el.id}`);
    }
    for (const th of d.querySelectorAll('table th')) if (!th.getAttribute('scope')) gaps.push(`th without scope: ${th.textContent}`);
    return gaps;
  });
}
