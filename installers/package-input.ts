import type { Runtime } from './runtimes.js';

/** What every installer builder takes: the staged app, its runtime, where to work and write. */
export interface PackageInput {
  appDir: string;
  runtime: Runtime;
  workDir: string;
  outDir: string;
  version: string;
  /** Baked into the package's config where the format has no install-time properties. */
  settings: { serverUrl?: string; enrollSecret?: string; site?: string; embedSecretInMsi?: boolean };
}
