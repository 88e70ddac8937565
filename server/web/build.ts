/**
 * Builds the dashboard (no side effects at import; `build-cli.ts` is the command): esbuild bundles the browser code (server/web/app, TypeScript, with
 * uPlot) into build/web/assets/app.js and copies the static files. No CDN at run time:
 * clinic networks are closed, so everything is served by the policy server itself.
 */
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { packageRoot } from '../../shared/paths.js';

export async function buildDashboard(): Promise<void> {
  const root = packageRoot();
  const out = join(root, 'build', 'web');
  mkdirSync(join(out, 'assets'), { recursive: true });
  await build({
    entryPoints: [join(root, 'server', 'web', 'app', 'main.ts')],
    bundle: true,
    minify: true,
    sourcemap: true,
    format: 'esm',
    target: ['chrome110', 'firefox110', 'safari16', 'edge110'],
    outfile: join(out, 'assets', 'app.js'),
    loader: { '.css': 'css' },
    logLevel: 'warning',
  });
  const staticDir = join(root, 'server', 'web', 'static');
  for (const f of readdirSync(staticDir)) copyFileSync(join(staticDir, f), join(out, f === 'index.html' ? f : join('assets', f)));
}

