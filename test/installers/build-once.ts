/**
 * Builds the installers once per test run, however many test files (forked workers) ask.
 * Workers of one vitest run share its main process as parent, so the parent's pid and
 * start time name the run; the first worker to create the lock folder builds with the
 * real CLI (`node build/installers/build.js`, what `npm run package` runs), the others
 * wait for its result file. Folders of finished runs are removed by the next run.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { vi } from 'vitest';
import { hasTool, TOOL_PACKAGES } from '../../installers/exec.js';
import type { Target } from '../../installers/options.js';
import { TARGET_TOOLS } from '../../installers/pipeline.js';
import { packageRoot } from '../../shared/paths.js';

/** The settings every test build bakes in. */
export const SETTINGS = { serverUrl: 'wss://guard.clinic.example:8470', enrollSecret: 'installer-test-secret-0123456789', site: 'north' };

export interface Built {
  files: Partial<Record<Target, string>>;
  seconds: number;
}

export const BUILD_CLI = join(packageRoot(), 'build', 'installers', 'build.js');

/** Tools a target needs that this machine lacks, and the apt-get line that adds them. */
function missingFor(tools: readonly string[]): { missing: string[]; install: string } {
  const missing = tools.filter((t) => !hasTool(t));
  return { missing, install: `apt-get install ${[...new Set(missing.map((t) => TOOL_PACKAGES[t] ?? t))].join(' ')}` };
}

/** Skips loudly: a suite that cannot run says which packages would let it. */
export function skipUnless(suite: string, tools: readonly string[]): boolean {
  const { missing, install } = missingFor(tools);
  if (missing.length > 0) console.warn(`skipping ${suite} tests (missing ${missing.join(', ')}): ${install}`);
  return missing.length > 0;
}

export function runNode(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function runKey(): string {
  let start = '0';
  try {
    // Field 22 of /proc/PID/stat: start time, so a recycled pid never reuses an old build.
    start = readFileSync(`/proc/${process.ppid}/stat`, 'utf8').split(') ')[1]?.split(' ')[19] ?? '0';
  } catch {
    // not Linux: the pid alone
  }
  return `${process.ppid}-${start}`;
}

function removeFinishedRuns(): void {
  for (const name of readdirSync(tmpdir())) {
    const m = /^cg-installers-run-(\d+)-/.exec(name);
    if (!m || Number(m[1]) === process.ppid) continue;
    try {
      process.kill(Number(m[1]), 0);
    } catch {
      rmSync(join(tmpdir(), name), { recursive: true, force: true });
    }
  }
}

let cached: Promise<Built> | undefined;

export function builtInstallers(): Promise<Built> {
  return (cached ??= buildOrWait());
}

async function buildOrWait(): Promise<Built> {
  const dir = join(tmpdir(), `cg-installers-run-${runKey()}`);
  const result = join(dir, 'result.json');
  mkdirSync(dir, { recursive: true });
  let builder = false;
  try {
    mkdirSync(join(dir, 'lock'));
    builder = true;
  } catch {
    // another worker of this run builds
  }
  if (builder) {
    removeFinishedRuns();
    const targets = (Object.keys(TARGET_TOOLS) as Target[]).filter((t) => missingFor(TARGET_TOOLS[t]).missing.length === 0);
    let outcome: { ok: true; built: Built } | { ok: false; error: string };
    if (!existsSync(BUILD_CLI)) outcome = { ok: false, error: `${BUILD_CLI} is missing: run npm run build first` };
    else if (targets.length === 0) outcome = { ok: true, built: { files: {}, seconds: 0 } };
    else {
      const started = Date.now();
      const r = await runNode([BUILD_CLI, '--out', join(dir, 'out'), '--targets', targets.join(','),
        '--server-url', SETTINGS.serverUrl, '--enroll-secret', SETTINGS.enrollSecret, '--site', SETTINGS.site]);
      const files: Built['files'] = {};
      for (const line of r.stdout.split('\n').filter(Boolean)) {
        const t = targets.find((x) => line.endsWith(`.${x}`));
        if (t) files[t] = line;
      }
      outcome = r.code === 0
        ? { ok: true, built: { files, seconds: (Date.now() - started) / 1000 } }
        : { ok: false, error: `npm run package failed (exit ${r.code}): ${r.stderr.trim()}` };
    }
    writeFileSync(result, JSON.stringify(outcome));
  }
  // The builder reads its own result the same way, so every worker sees the same outcome.
  await vi.waitFor(() => {
    if (!existsSync(result)) throw new Error('installers not built yet');
  }, { timeout: 400_000, interval: 500 });
  const outcome = JSON.parse(readFileSync(result, 'utf8')) as { ok: true; built: Built } | { ok: false; error: string };
  if (!outcome.ok) throw new Error(outcome.error);
  return outcome.built;
}
