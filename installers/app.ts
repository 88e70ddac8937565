/**
 * The platform-neutral part every installer ships, the `app/` folder:
 *
 *   app/agent.mjs                      the bundled agent (installers/bundle.ts)
 *   app/chunks/*.mjs                   what it imports lazily, loaded when first needed
 *   app/package.json                   name, version, "type": "module"
 *   app/policies/default.yaml          the clinic policy
 *   app/policies/catalog/*.yaml        the app catalog
 *   app/vendor/fastlist-0.3.0-x64.exe  ps-list's Windows helper (looked up beside the bundle)
 *
 * The agent finds its package root by walking up to a folder holding package.json and
 * policies/ (shared/paths.ts), so this folder is that root.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppError } from '../shared/errors.js';
import { bundleAgent } from './bundle.js';

export const FASTLIST = 'fastlist-0.3.0-x64.exe';

export async function stageApp(repoRoot: string, appDir: string, version: string): Promise<void> {
  mkdirSync(join(appDir, 'policies', 'catalog'), { recursive: true });
  mkdirSync(join(appDir, 'vendor'), { recursive: true });
  await bundleAgent(join(repoRoot, 'agent', 'cli.ts'), appDir);
  writeFileSync(join(appDir, 'package.json'), `${JSON.stringify({ name: 'consultguard', version, type: 'module' }, null, 2)}\n`);
  copyFileSync(join(repoRoot, 'policies', 'default.yaml'), join(appDir, 'policies', 'default.yaml'));
  for (const f of readdirSync(join(repoRoot, 'policies', 'catalog')).filter((n) => n.endsWith('.yaml')).sort()) {
    copyFileSync(join(repoRoot, 'policies', 'catalog', f), join(appDir, 'policies', 'catalog', f));
  }
  copyFileSync(join(repoRoot, 'node_modules', 'ps-list', 'vendor', FASTLIST), join(appDir, 'vendor', FASTLIST));
  smokeTest(appDir);
}

/**
 * Runs the staged bundle on a recorded Zoom snapshot and expects a detection: a bundle
 * that cannot load its catalog or a lazily required module fails the build here, not on
 * a workstation.
 */
function smokeTest(appDir: string): void {
  const dir = mkdtempSync(join(tmpdir(), 'cg-smoke-'));
  try {
    const snapshot = join(dir, 'snapshot.json');
    writeFileSync(snapshot, JSON.stringify({
      v: 1, platform: 'linux', hostname: 'smoke', takenAt: '2026-01-05T09:00:00Z',
      processes: [{ pid: 10, ppid: 1, name: 'zoom', path: '/opt/zoom/zoom', cmd: '/opt/zoom/zoom' }], connections: [],
    }));
    let out: string;
    try {
      out = execFileSync(process.execPath, [join(appDir, 'agent.mjs'), 'scan', '--snapshot', snapshot], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], cwd: dir });
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new AppError('internal', `the bundled agent failed its smoke test (scan --snapshot): ${(e.stderr ?? e.message).trim().split('\n').slice(-3).join(' | ')}`);
    }
    const apps = (JSON.parse(out) as { detections: { app: string }[] }).detections.map((d) => d.app);
    if (!apps.includes('zoom')) throw new AppError('internal', `the bundled agent did not detect Zoom in its smoke test; it printed ${out.trim()}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
