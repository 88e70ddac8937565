/**
 * Debian's haproxy running the shipped layout (installers/haproxy/consultguard.cfg) on
 * loopback ports, with a throwaway certificate; HTTPS requests through it that trust that
 * certificate; its status page as rows. Suites skip, naming the apt-get line, without it.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { packageRoot } from '../../shared/paths.js';
import { freePort } from './server-process.js';

const HAPROXY = '/usr/sbin/haproxy';
export const hasHaproxy = existsSync(HAPROXY);
export const NO_HAPROXY = `haproxy tests SKIPPED: no ${HAPROXY}; install it with \`apt-get install -y haproxy\` (Debian)`;
export const HAPROXY_CONFIG = join(packageRoot(), 'installers', 'haproxy', 'consultguard.cfg');

export interface Haproxy {
  /** https://127.0.0.1:PORT of the frontend. */
  url: string;
  port: number;
  /** PEM of the frontend's certificate (agents: --ca). */
  caFile: string;
  ca: Buffer;
  child: ChildProcess;
  /** The status page's rows for the instances: server name -> { status (UP, DOWN, ...), sessions so far }. */
  servers(): Promise<Map<string, { status: string; total: number }>>;
  stop(): Promise<void>;
}

/** A certificate for 127.0.0.1 and localhost, as haproxy wants it (chain and key in one PEM) and as a CA file. */
function certificate(dir: string): { pem: string; caFile: string } {
  const key = join(dir, 'key.pem');
  const caFile = join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', caFile,
    '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
  const pem = join(dir, 'haproxy.pem');
  writeFileSync(pem, readFileSync(caFile).toString() + readFileSync(key).toString(), { mode: 0o600 });
  return { pem, caFile };
}

export async function startHaproxy(dir: string, backends: [string, string]): Promise<Haproxy> {
  const { pem, caFile } = certificate(dir);
  const [port, statsPort] = [await freePort(), await freePort()];
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', CG_BIND: `127.0.0.1:${port}`, CG_CERT: pem, CG_SERVER1: backends[0], CG_SERVER2: backends[1], CG_STATS: `127.0.0.1:${statsPort}` };
  // -db: foreground, no daemon; the test ends it by its pid.
  const child = spawn(HAPROXY, ['-db', '-f', HAPROXY_CONFIG], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const servers = async () => {
    const res = await fetch(`http://127.0.0.1:${statsPort}/stats;csv`);
    const [header, ...rows] = (await res.text()).trim().split('\n');
    const cols = header!.replace(/^# /, '').split(',');
    const at = (name: string) => cols.indexOf(name);
    const map = new Map<string, { status: string; total: number }>();
    for (const row of rows.map((r) => r.split(','))) {
      if (row[at('pxname')] === 'consultguard_servers' && /^s\d$/.test(row[at('svname')] ?? '')) {
        map.set(row[at('svname')]!, { status: row[at('status')]!, total: Number(row[at('stot')]) });
      }
    }
    return map;
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`haproxy exited with ${child.exitCode}: ${stderr}`);
    try {
      await servers();
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`haproxy did not answer within 10 s: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    url: `https://127.0.0.1:${port}`, port, caFile, ca: readFileSync(caFile), child, servers,
    stop: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    }),
  };
}

export interface HttpsAnswer {
  status: number;
  text: string;
}

/** One HTTPS request through the proxy on a new connection, from `localAddress` (a 127/8 address). */
export function httpsRequest(h: Haproxy, path: string, opts: { method?: string; headers?: Record<string, string>; body?: string; localAddress?: string } = {}): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...opts.headers };
    if (opts.body !== undefined) Object.assign(headers, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(opts.body) });
    const req = request(`${h.url}${path}`, { method: opts.method ?? 'GET', ca: h.ca, agent: false, headers, localAddress: opts.localAddress }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** An open response stream through the proxy (the live feed): its text so far, and close. */
export function httpsStream(h: Haproxy, path: string, headers: Record<string, string>): Promise<{ status: number; contentType: string; text: () => string; close: () => void }> {
  return new Promise((resolve, reject) => {
    const req = request(`${h.url}${path}`, { ca: h.ca, agent: false, headers }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('error', () => undefined);
      resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), text: () => text, close: () => req.destroy() });
    });
    req.on('error', reject);
    req.end();
  });
}
