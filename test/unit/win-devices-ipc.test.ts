/**
 * Windows capture devices end to end on this Linux machine: the helper's Windows probe runs
 * a real child process that prints a recorded consultguard-devices.exe report
 * (test/fixtures/windows-devices/), answers the agent's `devices` query over the real helper
 * IPC (key proof, frames) on a real Unix socket, and the agent-side probe finds the signed-in
 * users in a native-collector process list and merges their helpers' answers into the
 * snapshot and the capabilities.
 * What this cannot show: a Windows named pipe and the ACL'd key folder (the wine MSI test
 * covers those), and IMFSensorActivityMonitor or a capture session (wine has neither; the
 * pilot PCs do), so the primary-source report is written in the probe's format, not recorded.
 */
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FALLBACK_MARK, createWindowsCaptureProbe } from '../../agent/collect/devices/win32.js';
import { createWindowsHelperDeviceProbe, sessionUsers } from '../../agent/collect/devices/win-helper.js';
import { defaultCollectors, takeSnapshot } from '../../agent/collect/snapshot.js';
import { startHelperServer, type HelperServer } from '../../agent/nudge/ipc-server.js';
import { prepareUserDir, readKey } from '../../agent/nudge/rendezvous.js';
import { silentLogger } from '../../shared/log.js';
import { packageRoot } from '../../shared/paths.js';
import type { ProcessInfo } from '../../shared/snapshot.js';
import { tempDir } from '../support/server.js';

const uid = process.getuid!();
const NODE = 'C:\\Program Files\\ConsultGuard\\node\\node.exe';

/** A stand-in for consultguard-devices.exe: a real program that prints a recorded report. */
function recordedProbe(fixture: string): string {
  const exe = join(tempDir('cg-winprobe-'), 'consultguard-devices');
  writeFileSync(exe, `#!/bin/sh\ncat '${join(packageRoot(), 'test', 'fixtures', 'windows-devices', fixture)}'\n`);
  chmodSync(exe, 0o755);
  return exe;
}

const servers: HelperServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** One user's helper, answering with the Windows probe as nudge-helper.ts wires it on win32. */
async function helper(exe: string) {
  const paths = prepareUserDir(tempDir('cg-nudge-'), { uid, gid: -1 }, false);
  servers.push(await startHelperServer({
    path: paths.socketFile, readKey: () => readKey(paths.keyFile, uid), log: silentLogger(), helloTimeoutMs: 500,
    show: () => Promise.reject(new Error('no nudge expected')), devices: createWindowsCaptureProbe(exe),
  }));
  return { path: paths.socketFile, key: paths.key };
}

const proc = (pid: number, name: string, user?: string, path?: string): ProcessInfo => ({ pid, ppid: 4, name, ...(user ? { user } : {}), ...(path ? { path } : {}) });

describe('Windows capture devices through the session helper', () => {
  it('the helper answers from the probe it runs: by pid from the primary APIs, the fallback named in the detail', async () => {
    expect(await createWindowsCaptureProbe(recordedProbe('primary-sources.txt'))()).toEqual({
      devices: [{ kind: 'microphone', pid: 4120 }, { kind: 'camera', pid: 4120 }],
    });
    const wine = await createWindowsCaptureProbe(recordedProbe('wine-consent-fallback.txt'))();
    expect(wine.devices).toEqual([{ kind: 'camera', path: 'C:\\Program Files\\Zoom\\bin\\Zoom.exe' }]);
    expect(wine.detail).toBe(`camera ${FALLBACK_MARK} (IMFSensorActivityMonitor unavailable: 0x8007007f; it can go stale)`);
    expect(await createWindowsCaptureProbe('/nonexistent/consultguard-devices.exe')()).toEqual({
      devices: null, detail: 'consultguard-devices.exe could not run (missing, or it failed or timed out)',
    });
  });

  it('asks the helpers of the signed-in users (explorer.exe and helper owners), never system accounts', () => {
    expect(sessionUsers([
      proc(100, 'explorer.exe', 'CLINIC\\dr.lee'),
      proc(101, 'EXPLORER.EXE', 'clinic\\DR.LEE'),
      proc(102, 'node.exe', 'CLINIC\\nurse.kim', NODE), // a helper in a second session
      proc(103, 'node.exe', 'NT AUTHORITY\\SYSTEM', NODE), // the agent service
      proc(104, 'explorer.exe'), // owner unknown (fallback collector)
      proc(105, 'node.exe', 'CLINIC\\dev', 'C:\\tools\\node.exe'), // someone else's node
      proc(106, 'explorer.exe', 'CLINIC\\PC4$'),
    ], NODE, 1)).toEqual(['CLINIC\\dr.lee', 'CLINIC\\nurse.kim']);
    expect(sessionUsers([proc(7, 'node.exe', 'VM\\root', NODE)], NODE, 7)).toEqual([]); // the agent itself
  });

  it('a win32 poll puts the helpers\' merged answers into the snapshot and reports captureDevices yes, or partial on the fallback', async () => {
    const lee = await helper(recordedProbe('primary-sources.txt'));
    const kim = await helper(recordedProbe('wine-consent-fallback.txt'));
    const where: Record<string, { path: string; key: Buffer }> = { 'CLINIC\\dr.lee': lee, 'CLINIC\\nurse.kim': kim };
    const errors: string[] = [];
    const probe = createWindowsHelperDeviceProbe({ root: 'unused', prepare: false, ownExe: NODE, locate: (u) => where[u] ?? null, onError: (what) => errors.push(what) });
    const processes = [proc(100, 'explorer.exe', 'CLINIC\\dr.lee'), proc(4120, 'Zoom.exe', 'CLINIC\\dr.lee')];
    const snap = await takeSnapshot({ processes: async () => processes, connections: async () => [], devices: probe }, new Date());
    expect(snap.devices).toEqual([{ kind: 'microphone', pid: 4120 }, { kind: 'camera', pid: 4120 }]);
    expect(probe.level()).toBe('yes');

    processes.push(proc(200, 'explorer.exe', 'CLINIC\\nurse.kim'), proc(300, 'explorer.exe', 'CLINIC\\locum'));
    expect(await probe.collect(processes)).toEqual([
      { kind: 'microphone', pid: 4120 }, { kind: 'camera', pid: 4120 }, { kind: 'camera', path: 'C:\\Program Files\\Zoom\\bin\\Zoom.exe' },
    ]);
    expect(probe.level()).toBe('partial'); // one session's camera came from the stale registry
    expect(errors).toEqual([]); // the locum has no prepared folder yet: nothing to ask, nothing wrong
  });

  it('says "not known" when no helper answers, and says why', async () => {
    const errors: string[] = [];
    const gone = { path: join(tempDir('cg-nudge-'), 'nudge.sock'), key: Buffer.alloc(32) };
    const probe = createWindowsHelperDeviceProbe({ root: 'unused', prepare: false, ownExe: NODE, locate: () => gone, onError: (what) => errors.push(what) });
    expect(await probe.collect([proc(100, 'explorer.exe', 'CLINIC\\dr.lee')])).toBeNull();
    expect(probe.level()).toBe('no');
    expect(errors).toEqual(['asking the helper of CLINIC\\dr.lee for capture devices']);
    expect(await probe.collect([proc(9, 'Zoom.exe', 'CLINIC\\dr.lee')])).toBeNull(); // nobody signed in
  });

  it('is what the Windows collectors use once the agent names its rendezvous', () => {
    const c = defaultCollectors({ platform: 'win32', nudgeRoot: tempDir('cg-nudge-'), prepareHelperDir: false });
    expect(c.devices?.name).toBe('win-helper');
    expect(c.capabilities?.().captureDevices).toBe('no'); // until a helper has answered
    expect(defaultCollectors({ platform: 'win32' }).devices).toBeUndefined();
  });
});
