/** A real server on a loopback port with a real SQLite file in a temp folder. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger, type Logger } from '../../shared/log.js';
import { packageRoot } from '../../shared/paths.js';
import { ServerConfig } from '../../server/config.js';
import { startServer } from '../../server/main.js';
import { createStore } from '../../server/store/index.js';

export const TEST_SECRET = 'test-enrolment-secret-0123456789';

export interface TestServer {
  url: string;
  wsUrl: string;
  port: number;
  dataDir: string;
  apiToken: string;
  close(): Promise<void>;
  fetchJson(path: string, token?: string | null): Promise<{ status: number; body: any }>;
}

export function tempDir(prefix = 'cg-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function startTestServer(opts: Partial<ServerConfig> & { log?: Logger; keepData?: boolean } = {}): Promise<TestServer> {
  const dataDir = opts.dataDir ?? tempDir();
  const store = createStore(dataDir);
  const { token: apiToken } = await store.apiTokens.create('lead', 'test');
  await store.close();
  const config = ServerConfig.parse({
    port: 0, host: '127.0.0.1', policiesDir: join(packageRoot(), 'policies', 'demo'), enrollSecret: TEST_SECRET, logLevel: 'silent',
    ...opts, dataDir,
  });
  const server = await startServer(config, opts.log ?? silentLogger());
  return {
    url: server.url,
    wsUrl: `${server.url.replace('http:', 'ws:')}/agent`,
    port: server.port,
    dataDir,
    apiToken,
    async close() {
      await server.close();
      if (!opts.keepData) rmSync(dataDir, { recursive: true, force: true });
    },
    async fetchJson(path, token = apiToken) {
      const res = await fetch(`${server.url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null };
    },
  };
}
