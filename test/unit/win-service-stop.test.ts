/**
 * The service host's stop request (agent/service-stop.ts) over a real local socket: on
 * Windows a named pipe, here a Unix socket (node's net module serves both the same way).
 * The wine MSI test shows the host and the agent doing it for real ("exited after the stop
 * request" in service.log on upgrade).
 */
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { untilStopRequest } from '../../agent/service-stop.js';
import { silentLogger } from '../../shared/log.js';
import { tempDir } from '../support/server.js';

const send = (path: string, text: string) => new Promise<void>((resolve, reject) => {
  const s = createConnection(path, () => s.end(text));
  s.on('close', () => resolve());
  s.on('error', reject);
});

describe('service stop request', () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('stops on the host\'s token only, and hides both variables from the agent\'s children', async () => {
    dir = tempDir('cg-stop-');
    const pipe = join(dir, 'stop.sock');
    const env: NodeJS.ProcessEnv = { CONSULTGUARD_STOP_PIPE: pipe, CONSULTGUARD_STOP_TOKEN: 'a'.repeat(64), OTHER: 'kept' };
    const stopped = untilStopRequest(env, silentLogger())!;
    expect(env).toEqual({ OTHER: 'kept' });
    let done = false;
    void stopped.then(() => (done = true));
    await vi.waitFor(() => send(pipe, `${'b'.repeat(64)}\n`)); // once it listens: a wrong token
    await send(pipe, 'short\n');
    await new Promise((r) => setImmediate(r));
    expect(done).toBe(false);
    await send(pipe, `${'a'.repeat(64)}\n`);
    await expect(stopped).resolves.toBe('stop-request');
  });

  it('is off when the host gave no stop pipe (macOS, Linux, a run by hand)', () => {
    expect(untilStopRequest({}, silentLogger())).toBeNull();
  });
});
