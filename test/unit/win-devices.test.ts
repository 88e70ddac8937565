/**
 * Windows camera/microphone probe output -> DeviceUse[] (CONTRACTS section 2). The probe is
 * native (installers/windows/devices.c); the wine recording is real, the others follow its
 * format (see test/fixtures/windows-devices/README.md). Wine cannot show a capture session
 * or a camera: those APIs are exercised on the pilot PCs.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { consentPath, installedDevicesProbe, parseWindowsDevices, probeWindowsDevices } from '../../agent/collect/devices/win32.js';
import { DeviceUse } from '../../shared/snapshot.js';
import { packageRoot } from '../../shared/paths.js';

const fixture = (name: string) => readFileSync(join(packageRoot(), 'test', 'fixtures', 'windows-devices', name), 'utf8');

describe('Windows capture devices in use', () => {
  it('takes pids from Core Audio and the sensor monitor, once each, and ignores the stale consent store', () => {
    const devices = parseWindowsDevices(fixture('primary-sources.txt'));
    expect(devices).toEqual([{ kind: 'microphone', pid: 4120 }, { kind: 'camera', pid: 4120 }]);
    for (const d of devices!) expect(DeviceUse.safeParse(d).success).toBe(true);
  });

  it('falls back to the consent store for a kind whose API is unavailable (real wine recording)', () => {
    expect(parseWindowsDevices(fixture('wine-consent-fallback.txt'))).toEqual([
      { kind: 'camera', path: 'C:\\Program Files\\Zoom\\bin\\Zoom.exe' },
    ]);
  });

  it('reads only in-use entries (started, not stopped) of the two kinds, by path or package', () => {
    expect(parseWindowsDevices(fixture('no-primary-sources.txt'))).toEqual([
      { kind: 'microphone', package: '5319275A.WhatsAppDesktop_cv1g1gvanyjgm' },
      { kind: 'camera', path: 'C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe' },
    ]);
  });

  it('says "not known" (undefined), never "none in use", for output that is not the probe\'s', () => {
    expect(parseWindowsDevices('')).toBeUndefined();
    expect(parseWindowsDevices('garbage\r\nmicrophone\t12\r\n')).toBeUndefined();
    expect(parseWindowsDevices('source\tmicrophone\tok\r\nsource\tcamera\tok\r\n')).toEqual([]);
  });

  it('maps consent-store key names to paths', () => {
    expect(consentPath('C:#Program Files#Zoom#bin#Zoom.exe')).toBe('C:\\Program Files\\Zoom\\bin\\Zoom.exe');
  });

  it('finds the probe in the install folder', () => {
    expect(installedDevicesProbe('C:\\Program Files\\ConsultGuard\\node\\node.exe')).toBe('C:\\Program Files\\ConsultGuard\\consultguard-devices.exe');
  });

  it('reports "not known" when the probe cannot run', async () => {
    expect(await probeWindowsDevices('/nonexistent/consultguard-devices.exe')).toBeUndefined();
  });
});
