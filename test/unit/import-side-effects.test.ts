/**
 * Importing a module does nothing but define things (STYLE: "nothing ... at import"): the
 * dashboard build module exports `buildDashboard` and builds only when its command,
 * server/web/build-cli.ts, runs it.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { packageRoot } from '../../shared/paths.js';

it('importing server/web/build.ts does not build the dashboard', async () => {
  const bundle = join(packageRoot(), 'build', 'web', 'assets', 'app.js');
  const before = existsSync(bundle) ? statSync(bundle).mtimeMs : null;
  const mod = await import('../../server/web/build.js');
  expect(typeof mod.buildDashboard).toBe('function');
  expect(existsSync(bundle) ? statSync(bundle).mtimeMs : null).toBe(before);
});
