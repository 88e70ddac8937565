/**
 * Approved-app readiness reaches the lead: a real agent checks the policy's approved app at
 * start and reports it in its status; /api/agents shows `approvedApp`. A live loopback URL
 * is ready; a launch target that is not installed is not. (Linux; the checks per OS are in
 * test/unit/readiness.test.ts.)
 */
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { packageRoot } from '../../shared/paths.js';
import { killAll, startAgentProcess, startFakeApp } from '../support/processes.js';
import { startTestServer, tempDir, TEST_SECRET, type TestServer } from '../support/server.js';

function policies(approved: string): string {
  const dir = tempDir('cg-pol-');
  mkdirSync(dir, { recursive: true });
  cpSync(join(packageRoot(), 'policies', 'catalog'), join(dir, 'catalog'), { recursive: true });
  const demo = readFileSync(join(packageRoot(), 'policies', 'demo', 'default.yaml'), 'utf8');
  writeFileSync(join(dir, 'default.yaml'), demo.replace(/^approved:\n(?: {2}.*\n)+/m, approved));
  return dir;
}

describe.skipIf(process.platform !== 'linux')('approved-app readiness in the fleet', () => {
  let server: TestServer | undefined;
  let web: Server | undefined;
  afterEach(async () => {
    await killAll();
    await server?.close();
    web?.close();
  });

  let work = '';
  const run = async (approved: string) => {
    server = await startTestServer({ policiesDir: policies(approved) });
    work = tempDir();
    startAgentProcess(['run', '--server', server.url, '--enroll-secret', TEST_SECRET, '--state', join(work, 'state'), '--nudge-dir', join(work, 'nudge')]);
    return vi.waitFor(async () => {
      const { body } = await server!.fetchJson('/api/agents');
      expect(body.items[0]?.approvedApp).toBeTruthy();
      return body.items[0].approvedApp;
    }, { timeout: 20_000, interval: 200 });
  };

  it('ready for a live loopback URL', async () => {
    web = createServer((_req, res) => res.writeHead(200).end());
    await new Promise<void>((r) => web!.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(web.address() as AddressInfo).port}/`;
    expect(await run(`approved:\n  name: Loopback Video\n  url: ${url}\n`)).toMatchObject({ ready: true, problem: null });
  });

  it('not ready when the launch target is missing, with the reason', async () => {
    const a = await run('approved:\n  name: Healthdirect Video Call\n  url: https://vcc.healthdirect.org.au/\n  open:\n    linux: /opt/healthdirect/bin/hd-video\n');
    expect(a).toMatchObject({ ready: false, problem: 'Healthdirect Video Call: the launch command /opt/healthdirect/bin/hd-video is not installed' });
    expect(Date.parse(a.checkedAt)).not.toBeNaN();

    // The clinician's nudge does not just point at it: it says it is broken and whom to tell.
    const bin = join(work, 'bin');
    mkdirSync(bin);
    const calls = join(work, 'notify-calls.txt');
    writeFileSync(join(bin, 'notify-send'), `#!/bin/sh\nprintf '%s\\n' "$*" >> '${calls}'\necho 3\n`);
    chmodSync(join(bin, 'notify-send'), 0o755);
    startAgentProcess(['nudge-helper', '--dir', join(work, 'nudge')], { PATH: `${bin}:${process.env.PATH}` });
    startFakeApp(join(work, 'opt', 'discord', 'Discord')); // not Zoom: other suites restart Zoom
    await vi.waitFor(() => expect(existsSync(calls) && readFileSync(calls, 'utf8')).toContain('Note: Healthdirect Video Call: the launch command /opt/healthdirect/bin/hd-video is not installed. Please tell IT.'), { timeout: 20_000, interval: 200 });
  }, 60_000);
});
