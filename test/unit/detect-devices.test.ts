/**
 * Capture devices, web clients and peer-to-peer flows in the matcher, on small snapshots
 * against the shipped catalog: the evidence lines say what `in-call` rests on, approved apps
 * stay silent whatever they hold, and the catalog carries a display name for every app.
 */
import { describe, expect, it } from 'vitest';
import { compileForScan } from '../../agent/commands/scan.js';
import { appName, compileCatalog, detect } from '../../agent/detect/index.js';
import { isPublicAddress } from '../../agent/detect/peers.js';
import { CatalogApp } from '../../shared/catalog.js';
import { builtinPoliciesDir } from '../../shared/paths.js';
import { loadPolicies, policyFor } from '../../shared/policy-load.js';
import { Snapshot, type DeviceUse, type Platform } from '../../shared/snapshot.js';

const compiled = compileForScan(undefined);
const effective = policyFor(loadPolicies(builtinPoliciesDir()), {}).effective;

function snap(platform: Platform, processes: unknown[], connections: unknown[] = [], devices?: DeviceUse[]): Snapshot {
  return Snapshot.parse({ v: 1, platform, hostname: 'T', takenAt: '2026-11-23T09:15:00+11:00', processes, connections, ...(devices ? { devices } : {}) });
}

const ZOOM = { pid: 4120, ppid: 900, name: 'Zoom.exe', path: 'C:\\Users\\dr.lee\\AppData\\Roaming\\Zoom\\bin\\Zoom.exe', user: 'CLINIC\\dr.lee' };
const CHROME = { pid: 77, ppid: 1, name: 'chrome', path: '/opt/google/chrome/chrome', user: 'drlee' };

describe('capture devices as call evidence', () => {
  it('says which process holds the camera', () => {
    const [d] = detect(snap('win32', [ZOOM], [], [{ kind: 'camera', pid: 4120 }]), compiled);
    expect(d).toMatchObject({ app: 'zoom', state: 'in-call', via: 'process', pids: [4120] });
    expect(d!.evidence).toContain('camera in use by Zoom.exe (pid 4120)');
    expect(d!.confidence).toBeGreaterThanOrEqual(0.95);
  });

  it('names the vendor network a browser talks to while it holds the microphone', () => {
    const conns = [{ pid: 77, protocol: 'udp', remoteAddress: '157.240.8.53', remotePort: 40123 }];
    const [d] = detect(snap('linux', [CHROME], conns, [{ kind: 'microphone', pid: 77 }]), compiled);
    expect(d).toMatchObject({ app: 'whatsapp', state: 'in-call', via: 'network', candidates: ['whatsapp', 'messenger'] });
    expect(d!.evidence).toContain("microphone in use by chrome (pid 77) while it talks to Meta's network");
    expect(d!.evidence.some((e) => e.includes("Meta's network (UDP, not 443: call media)"))).toBe(true);
  });

  it('a browser web client window with the camera is that app in a call; without it, open', () => {
    const app = { ...CHROME, cmd: '/opt/google/chrome/chrome --app=https://web.whatsapp.com/' };
    expect(detect(snap('linux', [app]), compiled).map((d) => d.state)).toEqual(['running']);
    const [d] = detect(snap('linux', [app], [], [{ kind: 'camera', pid: 77 }]), compiled);
    expect(d).toMatchObject({ app: 'whatsapp', state: 'in-call', via: 'process' });
    expect(d!.evidence).toContain('camera in use by chrome (pid 77), a browser running WhatsApp Web');
  });

  it('a device by package or path reaches the process it names', () => {
    const wa = { pid: 5120, name: 'WhatsApp.Root.exe', path: 'C:\\Program Files\\WindowsApps\\5319275A.WhatsAppDesktop_2.2587.10.0_x64__cv1g1gvanyjgm\\WhatsApp.Root.exe' };
    const [d] = detect(snap('win32', [wa], [], [{ kind: 'camera', package: '5319275A.WhatsAppDesktop_cv1g1gvanyjgm' }]), compiled);
    expect(d!.evidence).toContain('camera in use by WhatsApp.Root.exe (pid 5120, package 5319275A.WhatsAppDesktop_cv1g1gvanyjgm)');
    const [z] = detect(snap('win32', [ZOOM], [], [{ kind: 'microphone', path: ZOOM.path.toUpperCase() }]), compiled);
    expect(z).toMatchObject({ app: 'zoom', state: 'in-call', pids: [4120] });
  });

  it('says why the microphone held by avconferenced is not counted as a call', () => {
    const facetime = { pid: 901, name: 'FaceTime', path: '/System/Applications/FaceTime.app/Contents/MacOS/FaceTime' };
    const avc = { pid: 333, name: 'avconferenced', path: '/usr/libexec/avconferenced' };
    const [d] = detect(snap('darwin', [facetime, avc], [], [{ kind: 'microphone', pid: 333 }]), compiled);
    expect(d).toMatchObject({ app: 'facetime', state: 'running' });
    expect(d!.evidence.some((e) => e.startsWith('microphone in use by avconferenced (pid 333): not counted'))).toBe(true);
    expect(detect(snap('darwin', [avc], [], [{ kind: 'camera', pid: 333 }]), compiled)).toMatchObject([{ app: 'facetime', state: 'in-call', pids: [333] }]);
  });

  it('a consumer app open while something else holds the camera stays running', () => {
    const cam = { pid: 8300, name: 'WindowsCamera.exe', path: 'C:\\Program Files\\WindowsApps\\Microsoft.WindowsCamera_2025.2510.2.0_x64__8wekyb3d8bbwe\\WindowsCamera.exe' };
    expect(detect(snap('win32', [ZOOM, cam], [], [{ kind: 'camera', pid: 8300 }]), compiled)).toMatchObject([{ app: 'zoom', state: 'running' }]);
  });

  it('never reports an approved app, whatever device it holds', () => {
    const approvedZoom = compileCatalog(effective.catalog, ['zoom']);
    const devices: DeviceUse[] = [{ kind: 'camera', pid: 4120 }, { kind: 'microphone', path: ZOOM.path }];
    const conns = [{ pid: 4120, protocol: 'udp', remoteAddress: '170.114.10.20', remotePort: 8801 }];
    expect(detect(snap('win32', [ZOOM], conns, devices), approvedZoom)).toEqual([]);
    const web = { ...CHROME, cmd: '/opt/google/chrome/chrome https://app.zoom.us/wc/81234567890/join' };
    expect(detect(snap('linux', [web], [{ pid: 77, protocol: 'udp', remoteAddress: '170.114.10.20', remotePort: 8805 }], [{ kind: 'camera', pid: 77 }]), approvedZoom)).toEqual([]);
  });

  it('"devices" missing means unknown: the same snapshot without it detects what flows and processes say', () => {
    expect(detect(snap('win32', [ZOOM]), compiled)).toMatchObject([{ app: 'zoom', state: 'running' }]);
  });
});

describe('peer-to-peer flows', () => {
  const stun = { pid: 77, protocol: 'udp', remoteAddress: '157.240.8.53', remotePort: 3478 };
  const peer = { pid: 77, protocol: 'udp', remoteAddress: '203.0.113.77', remotePort: 52344 };

  it('joins the vendor call beside which it runs, and says so', () => {
    const [d] = detect(snap('linux', [CHROME], [stun, peer]), compiled);
    expect(d!.evidence).toContain("udp 203.0.113.77:52344 peer-to-peer from chrome beside its Meta relay flow");
  });

  it('alone, or from another process, is nobody\'s', () => {
    expect(detect(snap('linux', [CHROME], [peer]), compiled)).toEqual([]);
    const other = { pid: 88, ppid: 1, name: 'CoviuDesktop', path: '/opt/coviu/CoviuDesktop' };
    const [d] = detect(snap('linux', [CHROME, other], [stun, { ...peer, pid: 88 }]), compiled);
    expect(d!.evidence.some((e) => e.includes('peer-to-peer'))).toBe(false);
    expect(d!.pids).toEqual([77]);
  });

  it('counts only public unicast addresses as peers', () => {
    for (const a of ['203.0.113.7', '8.8.4.4', '2a01:4f8::1', '::ffff:198.51.100.2']) expect(isPublicAddress(a), a).toBe(true);
    for (const a of ['10.1.2.3', '172.20.0.1', '192.168.1.20', '100.64.0.9', '169.254.1.1', '127.0.0.1', '224.0.0.251', '::1', 'fe80::1', 'fd00::5', 'ff02::fb', '::ffff:10.0.0.1', 'nonsense'])
      expect(isPublicAddress(a), a).toBe(false);
  });
});

describe('catalog facts the matcher relies on', () => {
  it('every catalog app has a display name, for nudges and the dashboard', () => {
    for (const app of effective.catalog.apps) expect(appName(compiled, app.id)).toBe(app.name);
    expect(appName(compiled, 'teams-free')).toBe('Microsoft Teams (free)');
    expect(appName(compiled, 'no-such-app')).toBe('no-such-app');
  });

  it('rejects a web-app pattern that is not a regular expression, naming the field', () => {
    const r = CatalogApp.safeParse({ id: 'x', name: 'X', webApps: [{ pattern: 'web\\.x\\.com(', label: 'X Web' }] });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]).toMatchObject({ path: ['webApps', 0, 'pattern'], message: 'expected a valid regular expression' });
  });

  it('keeps the contract ids, with Skype still valid and Teams (free) beside it', () => {
    const ids = effective.catalog.apps.map((a) => a.id);
    for (const id of ['zoom', 'facetime', 'whatsapp', 'messenger', 'skype', 'teams-free', 'telegram', 'signal', 'discord', 'viber', 'google-meet']) expect(ids).toContain(id);
  });
});

describe('evidence order', () => {
  it('keeps the device line first even when flows fill the evidence cap', () => {
    const conns = Array.from({ length: 20 }, (_, i) => ({ pid: 4120, protocol: 'tcp', remoteAddress: `170.114.10.${i + 1}`, remotePort: 443 }));
    const [d] = detect(snap('win32', [ZOOM], conns, [{ kind: 'camera', pid: 4120 }]), compiled);
    expect(d!.evidence[0]).toBe('camera in use by Zoom.exe (pid 4120)');
    expect(d!.evidence.length).toBeLessThanOrEqual(12);
  });
});

describe('which flows a live poll keeps', () => {
  it('keeps vendor ranges and public peers (for peer-to-peer calls), never private or loopback flows', async () => {
    const { flowsWorthKeeping } = await import('../../agent/detect/index.js');
    const keep = flowsWorthKeeping(compiled);
    expect(keep('170.114.10.20')).toBe(true); // Zoom media range
    expect(keep('198.51.100.7')).toBe(true); // some public peer: kept so the matcher can pair it with a vendor relay flow
    expect(keep('2001:db8::5')).toBe(true); // a public IPv6 peer (documentation ranges stand for public hosts in tests)
    for (const a of ['10.0.0.5', '192.168.1.20', '172.16.0.1', '127.0.0.1', '::1', 'fe80::1', '100.64.0.1']) expect(keep(a), a).toBe(false);
  });
});
