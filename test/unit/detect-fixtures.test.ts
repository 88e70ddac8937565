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
