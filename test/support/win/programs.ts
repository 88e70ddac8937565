/**
 * Windows programs for tests and benchmarks, built with mingw from the sources: the native
 * collector (the same build step as the MSI's) and the fake video app (fake-app.c).
 */
import { join } from 'node:path';
import { run } from '../../../installers/exec.js';
import { compileCollector } from '../../../installers/windows/msi.js';
import { packageRoot } from '../../../shared/paths.js';

export async function buildCollector(dir: string): Promise<string> {
  const out = join(dir, 'consultguard-collector.exe');
  await compileCollector(packageRoot(), out);
  return out;
}

export async function buildFakeApp(dir: string): Promise<string> {
  const out = join(dir, 'fake-app.exe');
  await run('x86_64-w64-mingw32-gcc', ['-O2', '-s', '-Wall', '-o', out, join(packageRoot(), 'test', 'support', 'win', 'fake-app.c'), '-lws2_32']);
  return out;
}
