/**
 * A process matched by its path names that path in the evidence (which install it was:
 * Program Files, a user's AppData, a Store package), on every OS; a name-only match says so;
 * a very long path is cut so the line stays inside the wire's 512 characters.
 */
import { describe, expect, it } from 'vitest';
import { compileForScan } from '../../agent/commands/scan.js';
import { detect } from '../../agent/detect/index.js';
import { Event } from '../../shared/protocol.js';
import type { Platform, Snapshot } from '../../shared/snapshot.js';

const catalog = compileForScan(undefined);
const snap = (platform: Platform, name: string, path?: string): Snapshot => ({
  v: 1, platform, hostname: 'pc', takenAt: '2026-12-02T09:00:00Z', connections: [],
  processes: [{ pid: 4120, name, ...(path ? { path } : {}), user: 'CLINIC\\dr.lee' }],
});
const zoom = (s: Snapshot) => detect(s, catalog).find((d) => d.app === 'zoom');

describe('evidence of a path match', () => {
  it('names the path it matched, on Windows and Linux', () => {
    expect(zoom(snap('win32', 'Zoom.exe', 'C:\\Program Files\\Zoom\\bin\\Zoom.exe'))!.evidence)
      .toContain('process Zoom.exe (path C:\\Program Files\\Zoom\\bin\\Zoom.exe matches Zoom install)');
    expect(zoom(snap('linux', 'zoom', '/opt/zoom/zoom'))!.evidence).toContain('process zoom (path /opt/zoom/zoom matches Zoom install)');
  });

  it('says "name of" when no path was known', () => {
    expect(zoom(snap('win32', 'Zoom.exe'))!.evidence).toContain('process Zoom.exe (name of Zoom)');
  });

  it('cuts a very long path from the front, keeping the line valid on the wire', () => {
    const long = `C:\\Users\\dr.lee\\AppData\\Roaming\\${'deep\\'.repeat(120)}Zoom\\bin\\Zoom.exe`;
    const line = zoom(snap('win32', 'Zoom.exe', long))!.evidence.find((e) => e.includes('matches Zoom install'))!;
    expect(line).toMatch(/^process Zoom\.exe \(path \.\.\..*\\Zoom\\bin\\Zoom\.exe matches Zoom install\)$/);
    const event = { id: crypto.randomUUID(), violationId: crypto.randomUUID(), kind: 'started', app: 'zoom', state: 'running', via: 'process', pids: [4120], evidence: [line], at: '2026-12-02T09:00:00Z' };
    expect(Event.safeParse(event).success).toBe(true);
  });
});
