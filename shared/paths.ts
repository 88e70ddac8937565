import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/**
 * The package root (where package.json and policies/ live), found by walking up from
 * this file, so the same code works from sources (tests) and from build/ (the CLIs).
 */
export function packageRoot(): string {
  if (root) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'policies'))) return (root = dir);
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the ConsultGuard package root (package.json beside policies/)');
    dir = up;
  }
}

export const builtinPoliciesDir = (): string => join(packageRoot(), 'policies');
export const builtinCatalogDir = (): string => join(packageRoot(), 'policies', 'catalog');
