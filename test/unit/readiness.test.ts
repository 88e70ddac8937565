/**
 * Approved-app readiness (agent/readiness.ts) against real loopback HTTP servers and the
 * real file system / PATH of this Linux machine. Windows (Get-AppxPackage) and macOS
 * (mdfind, /Applications) lookups are shown through their command seams only.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkApprovedApp } from '../../agent/readiness.js';

const at = new Date('2026-11-23T08:50:00Z');
const approved = (url: string, open: Record<string, string> = {}) => ({ approved: { name: 'Healthdirect Video Call', url, apps: [], open } });

describe('approved-app readiness', () => {
  let live: Server;
  let broken: Server;
  let base = '';
  let brokenBase = '';
  const seen: string[] = [];
  beforeAll(async () => {
    live = createServer((req, res) => (seen.push(req.method ?? ''), res.writeHead(405).end()));
    broken = createServer((_req, res) => res.writeHead(503).end());
    await Promise.all([new Promise<void>((r) => live.listen(0, '127.0.0.1', r)), new Promise<void>((r) => broken.listen(0, '127.0.0.1', r))]);
    base = `http://127.0.0.1:${(live.address() as AddressInfo).port}/`;
    brokenBase = `http://127.0.0.1:${(broken.address() as AddressInfo).port}/`;
  });
  afterAll(() => {
    live.close();
    broken.close();
  });

  it('ready when the web address answers (even 405 to HEAD), with a HEAD request', async () => {
    const r = await checkApprovedApp(approved(base), at, { platform: 'linux' });
    expect(r).toEqual({ ready: true, checkedAt: at.toISOString(), problem: null });
    expect(seen).toContain('HEAD');
  });

  it('not ready for a dead address or a server error, naming the host and why', async () => {
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const port = (dead.address() as AddressInfo).port;
    await new Promise<void>((r) => dead.close(() => r()));
    const r = await checkApprovedApp(approved(`http://127.0.0.1:${port}/`), at, { platform: 'linux', timeoutMs: 2000 });
    expect(r.ready).toBe(false);
    expect(r.problem).toMatch(new RegExp(`Healthdirect Video Call: 127.0.0.1:${port} does not answer \\(ECONNREFUSED\\)`));
    const e = await checkApprovedApp(approved(brokenBase), at, { platform: 'linux' });
    expect(e).toMatchObject({ ready: false, problem: expect.stringContaining('HTTP 503') });
  });

  it('not ready when the address takes the connection but never answers, within the timeout', async () => {
    const silent = createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const t = Date.now();
      const r = await checkApprovedApp(approved(`http://127.0.0.1:${(silent.address() as AddressInfo).port}/`), at, { platform: 'linux', timeoutMs: 300 });
      expect(r.problem).toMatch(/does not answer \(no answer within 0.3 s\)/);
      expect(Date.now() - t).toBeLessThan(5000);
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });

  it('a launch target decides when the policy names one: missing .desktop or command is not ready', async () => {
    const missing = await checkApprovedApp(approved(base, { linux: 'healthdirect-video.desktop' }), at, { platform: 'linux', env: { XDG_DATA_DIRS: '/nonexistent' } });
    expect(missing).toMatchObject({ ready: false, problem: expect.stringContaining('healthdirect-video.desktop is not installed') });
    const noCmd = await checkApprovedApp(approved(base, { linux: '/opt/healthdirect/bin/hd-video --start' }), at, { platform: 'linux' });
    expect(noCmd).toMatchObject({ ready: false, problem: expect.stringContaining('/opt/healthdirect/bin/hd-video is not installed') });
    const sh = await checkApprovedApp(approved(base, { linux: 'sh -c true' }), at, { platform: 'linux' });
    expect(sh.ready).toBe(true);
  });

  it('Windows and macOS lookups go through their system commands', async () => {
    const calls: string[] = [];
    const run = async (cmd: string, args: string[]) => (calls.push(`${cmd} ${args.join(' ')}`), '');
    expect((await checkApprovedApp(approved(base, { win32: 'Healthdirect.Video_8wekyb3d8bbwe!App' }), at, { platform: 'win32', run })).ready).toBe(false);
    expect(calls[0]).toMatch(/^powershell.exe .*Get-AppxPackage -AllUsers -Name 'Healthdirect.Video'/);
    expect((await checkApprovedApp(approved(base, { darwin: 'au.org.healthdirect.video' }), at, { platform: 'darwin', run })).problem).toMatch(/bundle id au.org.healthdirect.video/);
    expect((await checkApprovedApp(approved(base, { darwin: 'Healthdirect Video' }), at, { platform: 'darwin', run, exists: () => true })).ready).toBe(true);
  });
});
