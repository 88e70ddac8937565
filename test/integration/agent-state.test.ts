/**
 * Issue 17 "no silent failures", on the agent's own files. The identity is never silently replaced. Real
 * agent processes against a real server: a corrupt identity.json is restored from its
 * backup (same agent id, the server still knows one agent); with both files unusable the
 * agent refuses to start with a `bad_state` message naming the file and what to do, and
 * leaves the file as it found it. (Today's code minted a new id over the corrupt file.)
 * A full disk under the outbox is the coded `disk_full`, from the kernel's own ENOSPC.
 */
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Writable } from 'node:stream';
import { createHealth } from '../../agent/health.js';
import { createOutbox } from '../../agent/outbox.js';
import { createLogger } from '../../shared/log.js';
import type { Event } from '../../shared/protocol.js';
import { killAll, runCli, startAgentProcess } from '../support/processes.js';
import { makeEvent } from '../support/ws-client.js';
import { startTestServer, tempDir, TEST_SECRET, type TestServer } from '../support/server.js';

const WAIT = { timeout: 15_000, interval: 200 };
let server: TestServer | undefined;
afterEach(async () => {
  await killAll();
  await server?.close();
  server = undefined;
});

function run(work: string, url: string) {
  return startAgentProcess(['run', '--server', url, '--enroll-secret', TEST_SECRET, '--state', join(work, 'state')], { CONSULTGUARD_NUDGE_DIR: join(work, 'nudge') });
}

async function onlineAgents(s: TestServer): Promise<Array<{ agentId: string; online: boolean }>> {
  return (await s.fetchJson('/api/agents')).body.items;
}

/** A server, and a state folder its agent enrolled from once and then stopped (its identity.json written). */
async function enrolledOnce(): Promise<{ s: TestServer; work: string; identityFile: string }> {
  const s = (server = await startTestServer());
  const work = tempDir();
  const first = run(work, s.url);
  await vi.waitFor(async () => expect((await onlineAgents(s))[0]?.online).toBe(true), WAIT);
  await first.stop();
  return { s, work, identityFile: join(work, 'state', 'identity.json') };
}

describe.skipIf(process.platform === 'win32')('agent identity file', () => {
  it('restores a corrupt identity.json from its backup and keeps the same agent id and token', async () => {
    const { s, work, identityFile } = await enrolledOnce();
    const before = JSON.parse(readFileSync(identityFile, 'utf8')) as { agentId: string; token: string };
    expect(before.token).toBeTruthy();
    expect(JSON.parse(readFileSync(`${identityFile}.bak`, 'utf8'))).toEqual(before);

    writeFileSync(identityFile, '{"agentId": "not-a-uu'); // torn by a crash or a bad disk
    const second = run(work, s.url);
    await vi.waitFor(async () => {
      const agents = await onlineAgents(s);
      expect(agents).toHaveLength(1);
      expect(agents[0]).toMatchObject({ agentId: before.agentId, online: true });
    }, WAIT);
    expect(second.output()).toContain(`restored agent id ${before.agentId} from ${identityFile}.bak`);
    expect(JSON.parse(readFileSync(identityFile, 'utf8'))).toEqual(before);
    // The repair shows in the health figures `status` reads.
    const status = await runCli('agent', ['status', '--state', join(work, 'state'), '--json']);
    expect(JSON.parse(status.stdout).lastError).toContain('identity file');
    await second.stop();
  });

  it('refuses to start, naming the file and what to do, when identity.json and its backup are both unusable', async () => {
    const { s, work, identityFile } = await enrolledOnce();
    writeFileSync(identityFile, 'garbage');
    writeFileSync(`${identityFile}.bak`, '');

    const again = run(work, s.url);
    const code = await new Promise<number | null>((resolve) => again.child.once('exit', (c) => resolve(c)));
    expect(code).not.toBe(0);
    expect(again.output()).toContain(`${identityFile} is unusable (it is not valid JSON) and its backup ${identityFile}.bak is unusable too (it is empty)`);
    expect(again.output()).toContain('will not make up a new agent id');
    expect(again.output()).toContain('agent forget');
    expect(readFileSync(identityFile, 'utf8')).toBe('garbage'); // not overwritten
    expect(await onlineAgents(s)).toHaveLength(1); // no second identity on the server
  });
});

describe.skipIf(!existsSync('/dev/full'))('outbox on a full disk', () => {
  it('raises disk_full naming the folder, and keeps the sequence so the next append after space returns is not a gap', () => {
    const dir = join(tempDir(), 'outbox');
    mkdirSync(dir);
    const outbox = createOutbox({ dir, maxEvents: 1000, maxBytes: 1 << 20 });
    // The first segment file (opened on the first append) is /dev/full: every write to it
    // fails with the kernel's ENOSPC. Made after the open, which reads existing segments.
    symlinkSync('/dev/full', join(dir, 'seg-0000000000000001.log'));
    const err = (() => {
      try {
        outbox.append([makeEvent() as Event]);
        return null;
      } catch (e) {
        return e;
      }
    })();
    expect(err).toMatchObject({ name: 'AppError', code: 'disk_full', message: expect.stringContaining(`no space left for the outbox in ${dir}; free disk space there`) });
    expect(outbox.stats()).toMatchObject({ depth: 0, lastSeq: 0 });
    outbox.close();
  });
});

describe('agent health', () => {
  it('logs a failure once per streak, counts every one, keeps the last, and says when it works again', () => {
    const lines: Array<{ level: number; msg: string }> = [];
    const sink = new Writable({ write(chunk: Buffer, _enc, done) { lines.push(JSON.parse(chunk.toString()) as { level: number; msg: string }); done(); } });
    const health = createHealth(createLogger({ name: 'test', level: 'info', destination: sink as never }));
    for (let i = 0; i < 3; i++) health.failed('state', 'status file', new Error(`EACCES ${i}`), 'check the state folder');
    health.failed('collect', 'poll', new Error('timeout'), 'retrying');
    health.ok('status file');
    health.ok('status file');
    health.failed('state', 'status file', new Error('EACCES again'), 'check the state folder');
    expect(health.figures()).toMatchObject({ stateErrors: 4, collectErrors: 1, lastError: 'status file: EACCES again' });
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      [40, 'status file failed; check the state folder'],
      [40, 'poll failed; retrying'],
      [30, 'status file works again'],
      [40, 'status file failed; check the state folder'],
    ]);
  });
});

describe('consultguard-agent status on damaged state files', () => {
  it('parses each file with its schema and names the one it cannot use, instead of crashing on a cast', async () => {
    const state = join(tempDir(), 'state');
    mkdirSync(state);
    writeFileSync(join(state, 'identity.json'), JSON.stringify({ agentId: '0b7f2a36-3c1e-4d1a-9d5e-5a3c2f1e0d9b', token: null }));
    writeFileSync(join(state, 'status.json'), JSON.stringify({ pid: process.pid, open: 'not a list' }));
    const r = await runCli('agent', ['status', '--state', state]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(3); // not running, as far as anyone can tell
    expect(r.stdout).toContain('Agent id:        0b7f2a36-3c1e-4d1a-9d5e-5a3c2f1e0d9b (not enrolled yet)');
    expect(r.stdout).toContain(`Unreadable:      ${join(state, 'status.json')}: at:`);
  });
});
