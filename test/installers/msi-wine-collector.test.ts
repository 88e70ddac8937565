/**
 * The "done when" for the native collector, under wine: the MSI-installed service
 * (consultguard-service.exe -> node.exe -> agent.mjs) runs consultguard-collector.exe from
 * its install folder, and a real Windows program built with mingw here, started as
 * C:\Program Files\Zoom\bin\Zoom.exe, reaches a real policy server on loopback as a `zoom`
 * violation with the verified path and the Windows account, which ends after it exits.
 *
 * Why this proves the native path: wine has no PowerShell or CIM, so the fallback (fastlist
 * names only) could only say "name of Zoom" and no user; "path C:\...\Zoom.exe matches Zoom install" and a
 * DOMAIN\user owner can only come from the collector. The status file names it too.
 *
 * What wine cannot show: a service in session 0 reading processes of other sessions and
 * accounts (wine runs everything as one unix user, in session 1), protected processes,
 * EDR reactions to the collector, and CREATE_NO_WINDOW (wine opens no console either way).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { TARGET_TOOLS } from '../../installers/pipeline.js';
import { COLLECTOR_EXE } from '../../agent/collect/win-native.js';
import { startTestServer, tempDir, TEST_SECRET, type TestServer } from '../support/server.js';
import { buildFakeApp } from '../support/win/programs.js';
import { builtInstallers, skipUnless } from './build-once.js';
import { createWinePrefix, type WinePrefix } from './wine.js';

const skip = skipUnless('MSI native collector under wine', [...TARGET_TOOLS.msi, 'wine', 'wineboot', 'wineserver']);
const ZOOM = 'C:\\Program Files\\Zoom\\bin\\Zoom.exe';

interface Violation {
  app: string;
  user: string | null;
  state: string;
  endedAt: string | null;
  evidence: string[];
}

describe.skipIf(skip)('MSI under wine: the service runs the native collector', () => {
  let wine: WinePrefix;
  let server: TestServer;
  let dir: string;
  let fake: string;
  let listener: Server;
  let port = 0;
  const accepted: Socket[] = [];
  let zoom: ChildProcess | undefined;
  const dataDir = () => join(wine.driveC, 'ProgramData', 'ConsultGuard');
  const violations = async () => ((await server.fetchJson('/api/violations?app=zoom')).body.items as Violation[]);

  beforeAll(async () => {
    dir = tempDir('cg-msi-coll-');
    // Names shown: this test checks the Windows account the collector reads (the dashboard default is a pseudonym).
    const [built, prefix, srv, exe] = await Promise.all([builtInstallers(), createWinePrefix(), startTestServer({ showNames: true }), buildFakeApp(dir)]);
    wine = prefix;
    server = srv;
    fake = exe;
    listener = createServer((s) => (s.on('error', () => undefined), accepted.push(s)));
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
    port = (listener.address() as { port: number }).port;
    const r = await wine.run(['msiexec', '/i', wine.winPath(built.files.msi!), '/qn',
      `SERVER_URL=${server.url.replace('http:', 'ws:')}`, `ENROLL_SECRET=${TEST_SECRET}`, 'SITE=north']);
    expect(r.code).toBe(0);
  }, 420_000);

  afterAll(async () => {
    if (zoom?.exitCode === null) zoom.kill('SIGKILL');
    for (const s of accepted) s.destroy();
    listener?.close();
    await wine?.destroy();
    await server?.close();
  });

  it('installs consultguard-collector.exe beside the bundle and the agent reports using it', async () => {
    expect(existsSync(join(wine.driveC, 'Program Files', 'ConsultGuard', 'app', COLLECTOR_EXE))).toBe(true);
    await vi.waitFor(async () => {
      expect((await server.fetchJson('/api/agents')).body.items).toEqual([expect.objectContaining({ platform: 'win32', online: true })]);
    }, { timeout: 90_000, interval: 500 });
    // The demo policy is always inside consult hours: the agent polls, and says with what.
    await vi.waitFor(() => {
      const status = JSON.parse(readFileSync(join(dataDir(), 'agent', 'status.json'), 'utf8')) as { health: { collector?: string; polls?: number } };
      expect(status.health.collector).toBe(`native (${COLLECTOR_EXE})`);
    }, { timeout: 90_000, interval: 500 });
  }, 200_000);

  it('reports C:\\Program Files\\Zoom\\bin\\Zoom.exe as a zoom violation with its path and Windows user, ended after it exits', async () => {
    const bin = join(wine.driveC, 'Program Files', 'Zoom', 'bin');
    mkdirSync(bin, { recursive: true });
    copyFileSync(fake, join(bin, 'Zoom.exe'));
    const out = join(dir, 'zoom.txt');
    const fd = openSync(out, 'w');
    zoom = spawn('wine', [ZOOM, '127.0.0.1', String(port), '600'], {
      env: { ...process.env, WINEPREFIX: wine.prefix, WINEDEBUG: '-all', WINEDLLOVERRIDES: 'mscoree,mshtml=', DISPLAY: '' },
      stdio: ['ignore', fd, fd],
    });
    closeSync(fd);

    await vi.waitFor(async () => {
      const open = (await violations()).filter((v) => v.endedAt === null);
      expect(open).toHaveLength(1);
      expect(open[0]!.evidence).toContain(`process Zoom.exe (path ${ZOOM} matches Zoom install)`);
      // Wine's one account, named DOMAIN\user as LookupAccountSidW names a local Windows account.
      expect(open[0]!.user).toMatch(new RegExp(`^[^\\\\]+\\\\${userInfo().username}$`));
    }, { timeout: 120_000, interval: 1000 });

    zoom.kill('SIGKILL');
    await vi.waitFor(async () => {
      const all = await violations();
      expect(all).toHaveLength(1);
      expect(all[0]!.endedAt).not.toBeNull();
    }, { timeout: 120_000, interval: 1000 });
  }, 300_000);
});
