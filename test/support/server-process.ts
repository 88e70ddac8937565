/** The server as a real child process (for crash tests): start, wait for /healthz, kill. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { packageRoot } from '../../shared/paths.js';
import { TEST_SECRET } from './server.js';

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export async function startServerProcess(port: number, dataDir: string, extra: string[] = []): Promise<ChildProcess> {
  const child = spawn(process.execPath, [
    join(packageRoot(), 'build', 'server', 'cli.js'), '--port', String(port), '--data', dataDir,
    '--policies', join(packageRoot(), 'policies', 'demo'), '--enroll-secret', TEST_SECRET, '--log-level', 'warn', ...extra,
  ], { stdio: ['ignore', 'ignore', 'inherit'] });
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (r.ok) return child;
    } catch {
      // not up yet
    }
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    if (Date.now() > deadline) throw new Error('server did not become healthy within 15 s');
    await new Promise((r) => setTimeout(r, 50));
  }
}
