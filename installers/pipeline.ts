/**
 * Builds the requested installers: stage the app once, fetch the runtimes, then build each
 * target (in parallel: each is mostly an external tool compressing a node binary).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stageApp } from './app.js';
import { requireTools } from './exec.js';
import { buildDeb } from './linux/deb.js';
import { buildPkg } from './macos/pkg.js';
import type { BuildOptions, Target } from './options.js';
import { fetchRuntime } from './runtimes.js';
import { buildMsi } from './windows/msi.js';

export const TARGET_TOOLS: Record<Target, string[]> = {
  msi: ['wixl', 'msibuild', 'msiinfo', 'x86_64-w64-mingw32-gcc'],
  pkg: ['bsdtar', 'cpio'],
  deb: ['dpkg-deb'],
};

export interface BuildResult {
  files: Partial<Record<Target, string>>;
  seconds: number;
}

export async function buildInstallers(opts: BuildOptions, progress: (line: string) => void = () => undefined): Promise<BuildResult> {
  const started = Date.now();
  // Check every tool first: a missing one should fail the build in a second, not after a download.
  requireTools('installers', ['npm', 'tar', ...opts.targets.flatMap((t) => TARGET_TOOLS[t]), ...(opts.sign ? ['osslsigncode'] : [])]);
  mkdirSync(opts.outDir, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'cg-installers-'));
  try {
    const appDir = join(work, 'app');
    progress('bundling the agent');
    await stageApp(opts.repoRoot, appDir, opts.version);
    const want = (t: Target) => opts.targets.includes(t);
    progress(`fetching node ${opts.targets.join(', ')} runtimes`);
    const [win, macArm, macX64, linux] = await Promise.all([
      want('msi') ? fetchRuntime('win-x64', opts.cacheDir) : undefined,
      want('pkg') ? fetchRuntime('darwin-arm64', opts.cacheDir) : undefined,
      want('pkg') ? fetchRuntime('darwin-x64', opts.cacheDir) : undefined,
      want('deb') ? fetchRuntime('linux-x64', opts.cacheDir) : undefined,
    ]);
    const common = { repoRoot: opts.repoRoot, appDir, outDir: opts.outDir, version: opts.version, settings: opts.settings };
    const jobs: Promise<[Target, string]>[] = [];
    const dir = (t: Target) => {
      const d = join(work, t);
      mkdirSync(d);
      return d;
    };
    if (win) jobs.push(buildMsi({ ...common, runtime: win, workDir: dir('msi'), sign: opts.sign }).then((f) => ['msi', f]));
    if (macArm && macX64) jobs.push(buildPkg({ ...common, runtimes: { arm64: macArm, x64: macX64 }, workDir: dir('pkg') }).then((f) => ['pkg', f]));
    if (linux) jobs.push(buildDeb({ ...common, runtime: linux, workDir: dir('deb') }).then((f) => ['deb', f]));
    // allSettled: never delete the work folder under a tool that is still running.
    const settled = await Promise.allSettled(jobs);
    const failed = settled.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    const files: BuildResult['files'] = {};
    for (const r of settled) {
      if (r.status !== 'fulfilled') continue;
      files[r.value[0]] = r.value[1];
      progress(`built ${r.value[1]}`);
    }
    return { files, seconds: (Date.now() - started) / 1000 };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
