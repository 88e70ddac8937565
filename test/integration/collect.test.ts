/** Collectors against real sockets and processes on this machine. */
import { spawn } from 'node:child_process';
import { accessSync, closeSync, constants, copyFileSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { collectLinuxConnections } from '../../agent/collect/connections.js';
import { hexToIp, parseProcNet } from '../../agent/collect/proc-net.js';
import { defaultCollectors, takeSnapshot } from '../../agent/collect/snapshot.js';
import { packageRoot } from '../../shared/paths.js';
import { killAll, runCli, startAgentProcess } from '../support/processes.js';
import { hasChromium, launchChromium, screenshot } from '../support/browser.js';
import { startTestServer, tempDir, TEST_SECRET } from '../support/server.js';

describe('/proc/net parsing', () => {
  it('decodes IPv4, IPv6 and IPv4-mapped addresses and TCP states', () => {
    expect(hexToIp('0100007F')).toBe('127.0.0.1');
    expect(hexToIp('0000000000000000FFFF00000100007F')).toBe('::ffff:127.0.0.1');
    expect(hexToIp('B80D0120000000000000000001000000')).toBe('2001:db8:0:0:0:0:0:1');
    const text = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 0F00020A:D1EB 140A72AA:2261 01 00000000:00000000 00:00000000 00000000  1000        0 123456 1 0000000000000000 20 4 30 10 -1',
    ].join('\n');
    expect(parseProcNet(text, 'tcp')).toEqual([
      { protocol: 'tcp', localAddress: '10.2.0.15', localPort: 53739, remoteAddress: '170.114.10.20', remotePort: 8801, state: 'ESTABLISHED', inode: 123456 },
    ]);
  });
});

describe.skipIf(process.platform !== 'linux')('connections on this machine', () => {
  let server: Server;
  let port = 0;
  let holder: ReturnType<typeof spawn>;

  beforeAll(async () => {
    server = createServer((s) => s.on('error', () => undefined));
    await new Promise<void>((r) => server.listen(0, '127.0.0.3', () => r()));
    port = (server.address() as { port: number }).port;
    // A real process holding a connected UDP socket to 127.0.0.2:40000 and a TCP
    // connection to our server; it says "ready" once both exist.
    holder = spawn(process.execPath, ['-e', `
      const s = require('dgram').createSocket('udp4');
      s.connect(40000, '127.0.0.2', () => {
        require('net').connect(${port}, '127.0.0.3', () => console.log('ready'));
      });
      setTimeout(() => {}, 60000);`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => holder.stdout!.once('data', () => resolve()));
  });
  afterAll(async () => {
    await killAll();
    holder.kill('SIGKILL');
    server.close();
  });

  it('finds a connected UDP socket and a TCP connection with their owning pid', () => {
    const all = collectLinuxConnections((a) => a === '127.0.0.2' || a === '127.0.0.3');
    expect(all).toEqual(expect.arrayContaining([
      expect.objectContaining({ protocol: 'udp', remoteAddress: '127.0.0.2', remotePort: 40000, pid: holder.pid }),
      expect.objectContaining({ protocol: 'tcp', remoteAddress: '127.0.0.3', remotePort: port, pid: holder.pid, state: 'ESTABLISHED' }),
    ]));
  });

  it('keeps only what the caller finds interesting', () => {
    const only = collectLinuxConnections((a) => a === '127.0.0.2');
    expect(only.length).toBeGreaterThan(0);
    expect(only.every((c) => c.remoteAddress === '127.0.0.2')).toBe(true);
    expect(collectLinuxConnections(() => false)).toEqual([]);
  });

  it('scan --live reports an unrecognised process holding media to a policy-added app range', async () => {
    const dir = tempDir('cg-pol-');
    const demo = readFileSync(join(packageRoot(), 'policies', 'demo', 'default.yaml'), 'utf8');
    writeFileSync(join(dir, 'test.yaml'), `${demo}
apps:
  - id: acme-video
    name: Acme Video
    network:
      ranges: [{ cidr: 127.0.0.2/32 }]
      media: [{ protocol: udp, ports: "40000" }]
`);
    const r = await runCli('agent', ['scan', '--live', '--policies', dir]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.detections).toEqual([
      expect.objectContaining({ app: 'acme-video', state: 'in-call', via: 'network', candidates: ['acme-video'], pids: [holder.pid] }),
    ]);
  });

  it('record writes real snapshots that scan reads back', async () => {
    const out = join(tempDir(), 'case.jsonl');
    const r = await runCli('agent', ['record', '--out', out, '--count', '2', '--interval', '0.1']);
    expect(r.code).toBe(0);
    const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(2);
    expect(lines[0].processes.some((p: { pid: number }) => p.pid === holder.pid)).toBe(true);
    expect(lines[0].connections.some((c: { remoteAddress: string }) => c.remoteAddress === '127.0.0.2')).toBe(true);
    const scan = await runCli('agent', ['scan', '--snapshot', out]);
    expect(scan.code).toBe(0);
    expect(scan.stdout.trim().split('\n')).toHaveLength(2);
    const bad = await runCli('agent', ['record', '--out', out, '--count', 'lots']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--count/);
  });
});

/**
 * A real process holding a capture device. This machine has no camera and no sound card
 * (no /dev/video*, no /dev/snd), so no process here can hold a real one: the collector is
 * pointed at a folder of stand-in nodes instead of /dev (CollectorOptions.devRoot; for the
 * CLI the test-only CONSULTGUARD_TEST_DEV_ROOT, documented in the README), and a real child
 * holds them open. Everything else is real: the child's /proc/PID/fd links, the walk, the
 * CLI. A replayed /proc tree with links to the real /dev names is in test/unit/collect-linux-devices.test.ts.
 */
describe.skipIf(process.platform !== 'linux')('capture devices held by a real process', () => {
  let dev = '';
  let zoom: ReturnType<typeof spawn>;
  let other: ReturnType<typeof spawn>;
  beforeAll(() => {
    const work = tempDir('cg-dev-');
    dev = join(work, 'dev');
    mkdirSync(join(dev, 'snd'), { recursive: true });
    for (const node of ['video0', 'snd/pcmC0D0c', 'snd/pcmC0D0p']) writeFileSync(join(dev, node), '');
    // A process named and placed like Zoom on Linux, holding the camera (fd 1) and the microphone (fd 2).
    const exe = join(work, 'opt', 'zoom', 'zoom');
    mkdirSync(dirname(exe), { recursive: true });
    copyFileSync('/bin/sleep', exe);
    const cam = openSync(join(dev, 'video0'), 'r');
    const mic = openSync(join(dev, 'snd/pcmC0D0c'), 'r');
    zoom = spawn(exe, ['300'], { stdio: ['ignore', cam, mic] });
    // A process no catalog knows (a camera app), holding the camera and only a playback node.
    const play = openSync(join(dev, 'snd/pcmC0D0p'), 'r');
    other = spawn('/bin/sleep', ['300'], { stdio: ['ignore', cam, play] });
    for (const fd of [cam, mic, play]) closeSync(fd);
  });
  afterAll(() => {
    zoom.kill('SIGKILL');
    other.kill('SIGKILL');
  });

  it('the collector reports camera and microphone by pid, for the processes that could matter', async () => {
    const snapshot = await takeSnapshot(defaultCollectors({ devRoot: dev }), new Date(), () => false, (n) => n === 'zoom');
    expect(snapshot.devices).toEqual(expect.arrayContaining([{ kind: 'camera', pid: zoom.pid }, { kind: 'microphone', pid: zoom.pid }]));
    expect(snapshot.devices!.some((d) => d.pid === other.pid)).toBe(false);
    // Without a name filter (record) every process counts; a playback node never does.
    const all = await takeSnapshot(defaultCollectors({ devRoot: dev }), new Date());
    expect(all.devices).toEqual(expect.arrayContaining([{ kind: 'camera', pid: other.pid }]));
    expect(all.devices!.filter((d) => d.pid === other.pid)).toEqual([{ kind: 'camera', pid: other.pid }]);
  });

  it('scan --live includes them in its snapshot; with the real /dev of this machine, none are held', async () => {
    const r = await runCli('agent', ['scan', '--live', '--with-snapshot'], { CONSULTGUARD_TEST_DEV_ROOT: dev });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.snapshot.devices).toEqual(expect.arrayContaining([{ kind: 'camera', pid: zoom.pid }, { kind: 'microphone', pid: zoom.pid }]));
    expect(result.detections).toEqual(expect.arrayContaining([expect.objectContaining({ app: 'zoom', pids: expect.arrayContaining([zoom.pid]) })]));
    const real = JSON.parse((await runCli('agent', ['scan', '--live', '--with-snapshot'])).stdout);
    expect(real.snapshot.devices).toEqual([]);
    const bad = await runCli('agent', ['scan', '--snapshot', 'x.json', '--with-snapshot']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--with-snapshot/);
  });

  it('record keeps them, for a bug report', async () => {
    const out = join(tempDir(), 'case.jsonl');
    const r = await runCli('agent', ['record', '--out', out], { CONSULTGUARD_TEST_DEV_ROOT: dev });
    expect(r.code).toBe(0);
    expect(r.stdout + r.stderr).toMatch(/capture devices in use/);
    const snap = JSON.parse(readFileSync(out, 'utf8').trim());
    expect(snap.devices).toEqual(expect.arrayContaining([{ kind: 'camera', pid: zoom.pid }, { kind: 'camera', pid: other.pid }]));
  });
});

/** Every agent says which evidence its machine can see: heartbeat -> store -> /api/agents, and `status` on the machine. */
describe.skipIf(process.platform !== 'linux')('what this machine can see', () => {
  it('reaches the server and the local status, computed from the Linux collectors in use', async () => {
    const server = await startTestServer();
    try {
      const state = join(tempDir(), 'state');
      startAgentProcess(['run', '--server', server.url, '--enroll-secret', TEST_SECRET, '--state', state]);
      const root = process.geteuid?.() === 0;
      let conntrack = true;
      try {
        accessSync('/proc/net/nf_conntrack', constants.R_OK);
      } catch {
        conntrack = false;
      }
      const expected = {
        processPaths: root ? 'yes' : 'partial', processUsers: 'yes', tcpPeers: 'yes',
        udpPeers: conntrack ? 'yes' : 'partial', captureDevices: root ? 'yes' : 'partial',
      };
      const item = await vi.waitFor(async () => {
        const { body } = await server.fetchJson('/api/agents');
        expect(body.items[0]?.capabilities).toBeTruthy();
        return body.items[0];
      }, { timeout: 15_000, interval: 200 });
      expect(item.capabilities).toEqual(expected);
      expect(item.health['sees.udpPeers']).toBe(expected.udpPeers); // stored with the health figures: no migration
      const status = await runCli('agent', ['status', '--state', state]);
      expect(status.stdout).toMatch(/Can see: +program paths|Can see: +program users/);
      const json = JSON.parse((await runCli('agent', ['status', '--state', state, '--json'])).stdout);
      expect(json.canSee).toEqual(expected);
      if (hasChromium) {
        // The fleet view shows it per workstation.
        const added = await runCli('server', ['user', 'add', '--role', 'lead', '--data', server.dataDir, 'cap.lead'], {}, 'a-long-test-password-123\n');
        expect(added.code).toBe(0);
        const browser = await launchChromium();
        try {
          const page = await browser.newPage();
          page.setDefaultTimeout(8000);
          await page.goto(`${server.url}/fleet`);
          await page.getByLabel('Username').fill('cap.lead');
          await page.getByLabel('Password').fill('a-long-test-password-123');
          await page.getByRole('button', { name: 'Sign in' }).click();
          const cell = page.locator('#fleet-table tbody tr .capabilities');
          await cell.waitFor();
          const text = await cell.textContent();
          expect(text).toContain('camera/mic');
          expect(text).toContain(expected.udpPeers === 'yes' ? 'UDP peers' : 'UDP peers (partial)');
          await screenshot(page, 'collect-fleet-capabilities');
        } finally {
          await browser.close();
        }
      }
    } finally {
      await killAll();
      await server.close();
    }
  });
});
