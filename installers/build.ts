/**
 * `npm run package [-- --server-url URL --enroll-secret S --site NAME]`: builds
 * dist/installers/consultguard-agent-<version>-x64.msi, consultguard-agent-<version>.pkg and
 * consultguard-agent_<version>_amd64.deb. See installers/README.md for deploying them.
 */
import { runCli } from '../shared/cli.js';
import { packageRoot } from '../shared/paths.js';
import { parseBuildOptions, USAGE } from './options.js';
import { buildInstallers } from './pipeline.js';

const PROGRAM = 'consultguard-package';

runCli(PROGRAM, async () => {
  const opts = parseBuildOptions(process.argv.slice(2), process.env, packageRoot());
  if (!opts) return void process.stdout.write(USAGE);
  const log = (line: string) => process.stderr.write(`${PROGRAM}: ${line}\n`);
  const { files, seconds } = await buildInstallers(opts, log);
  // stdout: the built files, one per line, for scripts; progress went to stderr.
  for (const f of Object.values(files)) process.stdout.write(`${f}\n`);
  log(`done in ${seconds.toFixed(1)} s`);
});
