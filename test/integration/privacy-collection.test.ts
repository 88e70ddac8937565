/**
 * Issue 14, collection switches enforced on the workstation: a real agent (child process)
 * with a policy that hashes user names and shortens the hostname reports a Skype process and
 * a browser opened on a Google Meet join link to a real server; the SQLite file holds
 * `h:<hex>` (the HMAC of the account name with the policy's key) and never the name, the
 * short hostname, and no URL or command-line text in any stored evidence.
 * Linux only: it needs real processes read from /proc. The redaction itself is the same
 * code on every OS (test/unit/privacy-redact.test.ts).
 */
import { createHmac } from 'node:crypto';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { packageRoot } from '../../shared/paths.js';
import { killAll, runCli, startAgentProcess, startFakeApp } from '../support/processes.js';
import { startTestServer, tempDir, TEST_SECRET, type TestServer } from '../support/server.js';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';

const KEY = 'clinic-north-pseudonym-key-2026';
const JOIN = 'https://meet.google.com/abc-mnop-xyz';

function policiesWith(collection: string): string {
  const dir = tempDir('cg-pol-');
  cpSync(join(packageRoot(), 'policies', 'catalog'), join(dir, 'catalog'), { recursive: true });
  const demo = readFileSync(join(packageRoot(), 'policies', 'demo', 'default.yaml'), 'utf8');
  // Replace the demo's collection block with the one under test.
  writeFileSync(join(dir, 'default.yaml'), demo.replace(/^collection:\n(?: {2}.*\n)+/m, collection));
  return dir;
}

describe.skipIf(process.platform !== 'linux')('collection switches, enforced by the agent', () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await killAll();
    await server?.close();
  });

  it('sends h:<hmac> instead of the user name, the short hostname, and no link or command line in evidence', async () => {
    const policiesDir = policiesWith(`collection:\n  userNames: hashed\n  commandLines: never\n  evidence: full\n  hostname: short\n  hashKey: "${KEY}"\n`);
    server = await startTestServer({ policiesDir });
    const work = tempDir();
    startAgentProcess(['run', '--server', server.url, '--enroll-secret', TEST_SECRET, '--state', join(work, 'state'), '--nudge-dir', join(work, 'nudge')]);
    await vi.waitFor(async () => {
      const { body } = await server!.fetchJson('/api/agents');
      expect(body.items[0]?.online).toBe(true);
      expect(body.items[0]?.hostname).toBe(hostname().split('.')[0]);
    }, { timeout: 25_000, interval: 200 });

    // Skype, not Zoom: other suites kill and restart Zoom and every agent sees the whole machine.
    startFakeApp(join(work, 'opt', 'skypeforlinux', 'skypeforlinux'));
    // A "browser" named chrome opened on a meeting link: the link is on its command line.
    const chrome = join(work, 'opt', 'google', 'chrome', 'chrome');
    mkdirSync(join(work, 'opt', 'google', 'chrome'), { recursive: true });
    // python3 copied under that name: the kernel reports comm "chrome", and it keeps any argv.
    copyFileSync('/usr/bin/python3', chrome);
    const browser = spawn(chrome, ['-c', 'import time; time.sleep(300)', '--profile-directory=Default', JOIN], { stdio: 'ignore' });
    try {
      await vi.waitFor(async () => {
        const { body } = await server!.fetchJson('/api/violations');
        // Contains, not equals: suites run in parallel and an agent sees every process on the machine.
        expect(body.items.map((v: { app: string }) => v.app)).toEqual(expect.arrayContaining(['google-meet', 'skype']));
      }, { timeout: 25_000, interval: 200 });

      const expected = `h:${createHmac('sha256', KEY).update(userInfo().username).digest('hex')}`;
      const db = new Database(join(server.dataDir, 'consultguard.db'), { readonly: true, fileMustExist: true });
      try {
        const events = db.prepare('SELECT body FROM events').all() as Array<{ body: string }>;
        expect(events.length).toBeGreaterThanOrEqual(2);
        const violations = db.prepare('SELECT user, hostname, evidence FROM violations').all() as Array<{ user: string; hostname: string; evidence: string }>;
        for (const v of violations) {
          expect(v.user).toBe(expected);
          expect(v.hostname).toBe(hostname().split('.')[0]);
        }
        const stored = [...events.map((e) => e.body), ...violations.map((v) => v.evidence)].join('\n');
        expect(stored).toContain(expected);
        // The evidence names the rule that matched...
        expect(stored).toMatch(/Google Meet join link/);
        // ...never the account name, the link or any command-line text.
        expect(stored).not.toContain(`"${userInfo().username}"`);
        expect(stored).not.toContain('meet.google.com');
        expect(stored).not.toContain('abc-mnop-xyz');
        expect(stored).not.toContain('--profile-directory');
        expect(stored).not.toMatch(/https?:\/\//);
        const agents = db.prepare('SELECT hostname FROM agents').all() as Array<{ hostname: string }>;
        expect(agents.map((a) => a.hostname)).toEqual([hostname().split('.')[0]]);
      } finally {
        db.close();
      }
      // The clinician reads the same switches in words.
      const status = await runCli('agent', ['status', '--state', join(work, 'state')]);
      expect(status.stdout).toContain('Your account name is not sent: a keyed code stands in for it');
      expect(status.stdout).toContain("The computer's short name is sent (without its network domain).");
      expect(status.stdout).toContain('Never sent: command lines, web addresses or meeting links');
    } finally {
      browser.kill();
    }
  }, 60_000);
});
