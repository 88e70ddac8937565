/**
 * Every recorded snapshot in test/fixtures/detect/ against the shipped catalog and
 * default policy. A fixture names the detections it expects (app, state, via, and
 * optionally user and candidates); anything else detected is a failure, so look-alikes
 * are fixtures expecting nothing.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileForScan } from '../../agent/commands/scan.js';
import { detect } from '../../agent/detect/index.js';
import { packageRoot } from '../../shared/paths.js';
import { Snapshot, type Detection } from '../../shared/snapshot.js';
import { parse } from 'yaml';

const DIR = join(packageRoot(), 'test', 'fixtures', 'detect');
const compiled = compileForScan(undefined);

interface Fixture {
  description: string;
  snapshot: unknown;
  expect: Array<Partial<Detection>>;
}

const fixtures = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => ({ file: f, ...(JSON.parse(readFileSync(join(DIR, f), 'utf8')) as Fixture) }));

describe('detection fixtures', () => {
  it('has fixtures', () => expect(fixtures.length).toBeGreaterThan(20));

  it.each(fixtures.map((f) => [f.file, f] as const))('%s', (_file, f) => {
    const detections = detect(Snapshot.parse(f.snapshot), compiled);
    const summary = detections.map((d) => ({ app: d.app, state: d.state, via: d.via }));
    expect(summary, f.description).toEqual(f.expect.map((e) => ({ app: e.app, state: e.state, via: e.via })));
    f.expect.forEach((e, i) => {
      const d = detections[i]!;
      if (e.user) expect(d.user).toBe(e.user);
      expect(d.candidates).toEqual(e.candidates ?? [e.app]);
      expect(d.confidence).toBeGreaterThan(0.3);
      expect(d.evidence.length).toBeGreaterThan(0);
      expect(d.pids.length).toBeGreaterThan(0);
    });
  });
});

interface Lookalike {
  id: string;
  os: 'win32' | 'darwin' | 'linux';
  name: string;
  path?: string;
  cmd?: string;
  resembles: string;
  why: string;
  connections?: Array<{ protocol: 'tcp' | 'udp'; remoteAddress: string; remotePort: number }>;
  /** Capture devices the look-alike holds (by its pid). */
  devices?: Array<'camera' | 'microphone'>;
}

const lookalikes = parse(readFileSync(join(packageRoot(), 'test', 'fixtures', 'lookalikes.yaml'), 'utf8')) as Lookalike[];

describe('look-alikes are never reported', () => {
  it('has at least 20', () => expect(lookalikes.length).toBeGreaterThanOrEqual(20));

  it.each(lookalikes.map((l) => [`${l.id} (${l.os}, resembles ${l.resembles})`, l] as const))('%s', (_id, l) => {
    const snapshot = Snapshot.parse({
      v: 1, platform: l.os, hostname: 'LOOKALIKE', takenAt: '2026-11-23T09:15:00+11:00',
      processes: [{ pid: 100, ppid: 1, name: l.name, path: l.path, cmd: l.cmd, user: 'x' }],
      connections: (l.connections ?? []).map((c) => ({ pid: 100, localAddress: '10.2.0.15', localPort: 50000, state: '', ...c })),
      ...(l.devices ? { devices: l.devices.map((kind) => ({ kind, pid: 100 })) } : {}),
    });
    expect(detect(snapshot, compiled), l.why).toEqual([]);
  });
});
