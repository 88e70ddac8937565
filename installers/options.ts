/**
 * `npm run package` options. The settings an installer bakes in (server URL, enrolment
 * secret, site) use their own CONSULTGUARD_PACKAGE_* variables so that a developer's
 * CONSULTGUARD_SERVER_URL, meant for a local agent, never ends up inside an installer.
 *
 * The enrolment secret goes into the pkg and deb (macOS and Debian have no install-time
 * properties) but into the MSI only with --embed-secret: Windows keeps a copy of every
 * installed MSI, Property table included, in C:\Windows\Installer, where users can read it.
 * Without the flag the MSI takes ENROLL_SECRET at install time (msiexec, transform, Intune).
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { parseCommandLine, resolveConfig, usage, type OptionSpec } from '../shared/config.js';
import { AppError } from '../shared/errors.js';

export const TARGETS = ['msi', 'pkg', 'deb'] as const;
export type Target = (typeof TARGETS)[number];

export const BUILD_OPTIONS: OptionSpec[] = [
  { key: 'serverUrl', flag: 'server-url', env: 'CONSULTGUARD_PACKAGE_SERVER_URL', type: 'string', describe: 'server URL baked into the installers, wss://HOST:PORT' },
  { key: 'enrollSecret', flag: 'enroll-secret', env: 'CONSULTGUARD_PACKAGE_ENROLL_SECRET', type: 'string', describe: 'enrolment secret baked into the installers' },
  { key: 'embedSecret', flag: 'embed-secret', env: 'CONSULTGUARD_PACKAGE_EMBED_SECRET', type: 'boolean', describe: 'also bake --enroll-secret into the MSI (default: the MSI takes ENROLL_SECRET at install time)' },
  { key: 'site', flag: 'site', env: 'CONSULTGUARD_PACKAGE_SITE', type: 'string', describe: 'site name baked into the installers' },
  { key: 'outDir', flag: 'out', env: 'CONSULTGUARD_PACKAGE_OUT', type: 'string', describe: 'output folder (default dist/installers)' },
  { key: 'targets', flag: 'targets', env: 'CONSULTGUARD_PACKAGE_TARGETS', type: 'string', describe: 'comma list of msi,pkg,deb (default all three)' },
  { key: 'version', flag: 'package-version', env: 'CONSULTGUARD_PACKAGE_VERSION', type: 'string', describe: 'installer version (default: package.json version)' },
  { key: 'cacheDir', flag: 'cache', env: 'CONSULTGUARD_PACKAGE_CACHE', type: 'string', describe: 'folder for downloaded runtimes (default .cache)' },
  { key: 'signCert', flag: 'sign-cert', env: 'CONSULTGUARD_SIGN_CERT', type: 'string', describe: 'Authenticode certificate (PEM or DER) to sign the MSI and service host' },
  { key: 'signKey', flag: 'sign-key', env: 'CONSULTGUARD_SIGN_KEY', type: 'string', describe: 'private key for --sign-cert' },
  { key: 'signPassFile', flag: 'sign-pass-file', env: 'CONSULTGUARD_SIGN_PASS_FILE', type: 'string', describe: 'file holding the password of --sign-key, if it has one' },
];

/** One URL or several, comma-separated (instances the agent fails over between); the agent checks each again at start. */
const serverUrl = z.string().refine((s) => s.split(',').every((u) => {
  try {
    return ['ws:', 'wss:', 'http:', 'https:'].includes(new URL(u).protocol);
  } catch {
    return false;
  }
}), 'expected a URL such as wss://guard.clinic.example:8470, or several separated by commas');

// The MSI hands these to its custom action on a Windows command line, where a double
// quote or a backslash before one would split or merge arguments: refuse them (and
// whitespace, which no URL, generated secret or site name needs) rather than half-escape.
const plainText = (what: string) =>
  z.string().min(1, `expected a non-empty ${what}`).max(256).regex(/^[^"\\\s\p{Cc}]+$/u, `${what} may not contain spaces, double quotes or backslashes`);

export const BuildConfig = z
  .object({
    serverUrl: serverUrl.pipe(plainText('URL')).optional(),
    enrollSecret: plainText('secret').optional(),
    embedSecret: z.boolean().default(false),
    site: plainText('site name').max(128).optional(),
    outDir: z.string().min(1).optional(),
    targets: z
      .string()
      .default(TARGETS.join(','))
      .transform((s) => s.split(',').map((t) => t.trim()).filter(Boolean))
      .pipe(z.array(z.enum(TARGETS, { error: 'expected a comma list of msi, pkg, deb' })).min(1, 'expected at least one of msi, pkg, deb')),
    // MSI ProductVersion limits: major and minor below 256, build below 65536.
    version: z
      .string()
      .regex(/^(\d{1,3})\.(\d{1,3})\.(\d{1,5})$/, 'expected MAJOR.MINOR.PATCH, e.g. 1.2.3')
      .refine((v) => { const [a, b, c] = v.split('.').map(Number); return a! < 256 && b! < 256 && c! < 65536; }, 'MSI versions need MAJOR and MINOR below 256 and PATCH below 65536')
      .optional(),
    cacheDir: z.string().min(1).optional(),
    signCert: z.string().min(1).optional(),
    signKey: z.string().min(1).optional(),
    signPassFile: z.string().min(1).optional(),
  })
  .superRefine((c, ctx) => {
    if (c.embedSecret && c.enrollSecret === undefined) {
      ctx.addIssue({ code: 'custom', path: ['embedSecret'], message: 'needs --enroll-secret: there is no secret to embed' });
    }
    if ((c.signCert === undefined) !== (c.signKey === undefined)) {
      ctx.addIssue({ code: 'custom', path: [c.signCert === undefined ? 'signCert' : 'signKey'], message: 'give both --sign-cert and --sign-key, or neither' });
    }
  });

export interface BuildOptions {
  repoRoot: string;
  outDir: string;
  cacheDir: string;
  version: string;
  targets: Target[];
  settings: { serverUrl?: string; enrollSecret?: string; site?: string; embedSecretInMsi?: boolean };
  sign?: { cert: string; key: string; passFile?: string };
}

export const USAGE = usage('npm run package -- [options]', BUILD_OPTIONS);

/** Parses argv and environment into build options; `null` when --help was asked. */
export function parseBuildOptions(argv: string[], env: NodeJS.ProcessEnv, repoRoot: string): BuildOptions | null {
  const { values, positionals } = parseCommandLine(argv, BUILD_OPTIONS);
  if (values.help) return null;
  if (positionals.length > 0) throw new AppError('bad_option', `unexpected argument "${positionals[0]}"; run with --help for the options`);
  const c = resolveConfig(BuildConfig, BUILD_OPTIONS, values, env);
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
  const version = c.version ?? pkg.version;
  if (!BuildConfig.shape.version.safeParse(version).success) {
    throw new AppError('bad_option', `--package-version: package.json version "${version}" is not MAJOR.MINOR.PATCH below 256.256.65536; pass --package-version`);
  }
  return {
    repoRoot,
    outDir: resolve(c.outDir ?? join(repoRoot, 'dist', 'installers')),
    cacheDir: resolve(c.cacheDir ?? join(repoRoot, '.cache')),
    version,
    targets: c.targets,
    settings: { serverUrl: c.serverUrl, enrollSecret: c.enrollSecret, site: c.site, ...(c.embedSecret ? { embedSecretInMsi: true } : {}) },
    sign: c.signCert && c.signKey ? { cert: resolve(c.signCert), key: resolve(c.signKey), passFile: c.signPassFile && resolve(c.signPassFile) } : undefined,
  };
}
