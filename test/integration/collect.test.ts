/** Collectors against real sockets and processes on this machine. */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectLinuxConnections } from '../../agent/collect/connections.js';
import { hexToIp, parseProcNet } from '../../agent/collect/proc-net.js';
import { packageRoot } from '../../shared/paths.js';
import { killAll, runCli } from '../support/processes.js';
import { tempDir } from '../support/server.js';

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
