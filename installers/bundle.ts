/**
 * The agent as ESM files of its own, so an installer ships no node_modules: esbuild
 * bundles agent/cli.ts and everything it imports into `agent.mjs`, tree-shaken and
 * minified, and puts what is only imported lazily (`await import(...)`: the commands
 * other than `run`, ps-list and systeminformation, pino-roll, yaml, ...) into
 * `chunks/*.mjs` beside it, loaded when first needed.
 *
 * Why (measured with `npm run bench -- agent-memory`, which runs this bundle): V8 keeps a
 * module's whole source text for as long as the process lives, and one non-ASCII
 * character in a comment made the 2.3 MB single-file bundle a two-byte string: 4.6 MB of
 * the agent's heap. Minified and split, the startup file is a fraction of that and ASCII
 * only (esbuild escapes non-ASCII in strings; comments go).
 */
import { readFileSync } from 'node:fs';
import { build, type Plugin } from 'esbuild';

// CommonJS dependencies (pino, ws, systeminformation, ...) call `require`; an ESM bundle
// has none, so give it one that resolves beside the bundle.
const BANNER = "import { createRequire as __cgCreateRequire } from 'node:module'; const require = __cgCreateRequire(import.meta.url);";

/**
 * `createRequire(import.meta.url)('yaml')` (a lazy load in shared/yaml-file.ts) is a call
 * esbuild cannot follow, so the bundle would look for node_modules/yaml at run time and
 * find none. Rewriting it to `require('yaml')` lets esbuild bundle the module while it is
 * still loaded lazily.
 */
const inlineCreateRequire: Plugin = {
  name: 'inline-create-require',
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, (args) => {
      if (args.path.includes('node_modules')) return undefined;
      const text = readFileSync(args.path, 'utf8');
      if (!text.includes('createRequire(import.meta.url)(')) return undefined;
      return { contents: text.replace(/createRequire\(import\.meta\.url\)\(\s*(['"][^'"]+['"])\s*\)/g, 'require($1)'), loader: 'ts' };
    });
  },
};

/**
 * ps-list finds its Windows helper at `<its own folder>/vendor/fastlist-*.exe`. Split, its
 * code runs from `app/chunks/`, while the helper ships at `app/vendor/` (installers/app.ts):
 * its folder becomes the one above `chunks`. The build fails if ps-list stops looking there
 * this way, rather than a workstation's fallback failing later.
 */
const PS_LIST_DIR = 'const __dirname = path.dirname(fileURLToPath(import.meta.url));';
const psListBesideApp: Plugin = {
  name: 'ps-list-beside-app',
  setup(b) {
    b.onLoad({ filter: /[\\/]node_modules[\\/]ps-list[\\/]index\.js$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      if (!text.includes(PS_LIST_DIR)) throw new Error(`ps-list (${args.path}) no longer sets its folder with "${PS_LIST_DIR}": check where it looks for fastlist and update installers/bundle.ts`);
      const replaced = text.replace(PS_LIST_DIR, "const __dirname = ((d) => (path.basename(d) === 'chunks' ? path.dirname(d) : d))(path.dirname(fileURLToPath(import.meta.url)));");
      return { contents: replaced, loader: 'js' };
    });
  },
};

/** Bundles `entry` into `outdir/agent.mjs` plus `outdir/chunks/*.mjs`. */
export async function bundleAgent(entry: string, outdir: string): Promise<void> {
  const result = await build({
    entryPoints: { agent: entry },
    outdir,
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunks/[name]-[hash]',
    splitting: true,
    minify: true,
    charset: 'ascii',
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'esm',
    banner: { js: BANNER },
    plugins: [inlineCreateRequire, psListBesideApp],
    legalComments: 'none',
    logLevel: 'silent',
  });
  if (result.warnings.length > 0) {
    // Warnings here are usually a require() esbuild could not resolve: a crash at run time on a workstation.
    const first = result.warnings[0];
    throw new Error(`esbuild warned while bundling ${entry}: ${first?.text ?? ''} (${first?.location?.file ?? ''}:${first?.location?.line ?? ''})`);
  }
}
