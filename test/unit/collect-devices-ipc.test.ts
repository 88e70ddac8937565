/**
 * Capture devices from the helper in the user's session (how macOS reports them), over the
 * real helper IPC on real Unix sockets: the same key proof as nudges, then one `devices`
 * question. The helper's macOS probe (osascript) cannot run here; the helper is given the
 * parsed answer of a recorded report (test/fixtures/collect/darwin/) instead. What this
 * cannot show: a real LaunchAgent session on a Mac.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createDarwinCollectors } from '../../agent/collect/darwin.js';
import { createHelperDeviceProbe } from '../../agent/collect/devices/session.js';
import { parseDarwinCapture } from '../../agent/collect/devices/darwin-capture.js';
import { takeSnapshot } from '../../agent/collect/snapshot.js';
import { LSOF_FILE } from '../../agent/collect/darwin-lsof.js';
import { PS_FILE } from '../../agent/collect/darwin-ps.js';
import { DSCL_FILE } from '../../agent/collect/darwin-users.js';
import { AppError } from '../../shared/errors.js';
import { askHelperDevices } from '../../agent/nudge/ipc-devices.js';
import { startHelperServer, type HelperServer, type HelperServerOptions } from '../../agent/nudge/ipc-server.js';
import { prepareUserDir, readKey, userPaths } from '../../agent/nudge/rendezvous.js';
import { silentLogger } from '../../shared/log.js';
import { packageRoot } from '../../shared/paths.js';
import { tempDir } from '../support/server.js';

const uid = process.getuid!();
const report = (name: string) => readFileSync(join(packageRoot(), 'test', 'fixtures', 'collect', 'darwin', name), 'utf8');

const servers: HelperServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function helper(root: string, devices?: HelperServerOptions['devices']) {
  const paths = prepareUserDir(root, { uid, gid: -1 }, false);
  const server = await startHelperServer({
    path: paths.socketFile, readKey: () => readKey(paths.keyFile, uid), log: silentLogger(), helloTimeoutMs: 500,
    show: () => Promise.reject(new Error('no nudge expected')),
    ...(devices ? { devices } : {}),
  });
  servers.push(server);
  return paths;
}

describe('devices over the helper IPC', () => {
  it('the helper answers with what its probe saw, after both sides proved the key', async () => {
    const root = tempDir('cg-nudge-');
    const paths = await helper(root, async () => ({ devices: parseDarwinCapture(report('osascript-macos15-zoom-call.json')).devices }));
    const answer = await askHelperDevices(paths.socketFile, paths.key);
    expect(answer).toEqual({ devices: [{ kind: 'camera' }, { kind: 'microphone', pid: 4120 }, { kind: 'microphone', pid: 4188 }] });
  });

  it('a helper without a probe, or whose probe fails, answers "not known" with a reason', async () => {
    const none = await helper(tempDir('cg-nudge-'));
    expect(await askHelperDevices(none.socketFile, none.key)).toEqual({ devices: null, detail: expect.stringMatching(/no capture-device probe/) });
    const failing = await helper(tempDir('cg-nudge-'), () => Promise.reject(new Error('osascript: execution error')));
    expect(await askHelperDevices(failing.socketFile, failing.key)).toEqual({ devices: null, detail: expect.stringMatching(/probe failed: osascript/) });
  });

  it('the helper refuses a caller without the key, and the agent refuses a helper without it', async () => {
    const paths = await helper(tempDir('cg-nudge-'), async () => ({ devices: [] }));
    await expect(askHelperDevices(paths.socketFile, randomBytes(32))).rejects.toMatchObject({ code: 'helper_refused' });
    // Someone rewrote the key file after the helper started: the helper's proof no longer matches what the agent holds.
    writeFileSync(paths.keyFile, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
    await expect(askHelperDevices(paths.socketFile, paths.key)).rejects.toBeInstanceOf(AppError);
  });

  it('the agent-side probe asks the console user\'s helper, and says "not known" when none listens', async () => {
    const root = tempDir('cg-nudge-');
    const errors: string[] = [];
    const probe = createHelperDeviceProbe({ root, prepare: true, consoleUid: () => uid, onError: (what) => errors.push(what) });
    expect(await probe.collect([])).toBeNull(); // folder made, no helper yet
    expect(probe.lastAnswered()).toBe(false);
    expect(readKey(userPaths(root, uid).keyFile, uid)).not.toBeNull(); // the helper can start listening now
    await helper(root, async () => ({ devices: [{ kind: 'camera' }] }));
    expect(await probe.collect([])).toEqual([{ kind: 'camera' }]);
    expect(probe.lastAnswered()).toBe(true);
    expect(await createHelperDeviceProbe({ root, prepare: false, consoleUid: () => null }).collect([])).toBeNull(); // login window
  });

  it('a macOS poll puts the helper\'s answer into the snapshot and then reports capture devices as partial', async () => {
    const root = tempDir('cg-nudge-');
    await helper(root, async () => ({ devices: parseDarwinCapture(report('osascript-macos13-facetime.json')).devices }));
    const tools: Record<string, string> = { [PS_FILE]: 'ps-axww.txt', [LSOF_FILE]: 'lsof-F.txt', [DSCL_FILE]: 'dscl-users.txt' };
    const run = (file: string) => (tools[file] ? Promise.resolve(report(tools[file])) : Promise.reject(new Error(`no ${file} here`)));
    // This Linux machine's console is not a Mac's: the console user is this test's user.
    const c = createDarwinCollectors({ run, nudgeRoot: root, consoleUid: () => uid });
    expect(c.capabilities().captureDevices).toBe('no'); // not asked yet
    const snapshot = await takeSnapshot(c, new Date(), undefined, () => true);
    expect(snapshot.devices).toEqual([{ kind: 'camera' }, { kind: 'microphone' }]);
    expect(snapshot.processes.find((p) => p.pid === 6001)).toMatchObject({ name: 'FaceTime', user: 'dr.lee' });
    expect(snapshot.connections.some((x) => x.pid === 1022 && x.protocol === 'udp')).toBe(true);
    expect(c.capabilities().captureDevices).toBe('partial');
  });
});
