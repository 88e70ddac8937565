/**
 * Where a worker's script is: beside this file in the build. Run from the TypeScript
 * sources (vitest), the built copy in build/ (tests build first, as `npm test` does).
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { packageRoot } from '../../../shared/paths.js';

export const workerUrl = (name: 'csv-worker' | 'rollup-worker' | 'read-worker' | 'store-worker'): URL =>
  import.meta.url.endsWith('.ts') ? pathToFileURL(join(packageRoot(), 'build', 'server', 'store', 'worker', `${name}.js`)) : new URL(`./${name}.js`, import.meta.url);
