#!/usr/bin/env node
/** `consultguard-server`: the policy server, and its admin commands. */
import { join } from 'node:path';
import { parseCommandLine, resolveConfig, usage } from '../shared/config.js';
import { AppError } from '../shared/errors.js';
import { runCli, untilSignal } from '../shared/cli.js';
import { createLogger } from '../shared/log.js';
import { ServerConfig, SERVER_OPTIONS } from './config.js';
import { startServer } from './main.js';
import { ADMIN_USAGE, runAdmin } from './admin-cli.js';

const PROGRAM = 'consultguard-server';
async function main(argv: string[]): Promise<number | void> {
  const first = argv[0];
  if (first !== undefined && !first.startsWith('-')) {
    if (await runAdmin(argv, (line) => process.stdout.write(`${line}\n`))) return;
    throw new AppError('bad_option', `unknown command "${first}"; run --help for the commands`);
  }
  const { values } = parseCommandLine(argv, SERVER_OPTIONS);
  if (values.help) return void process.stdout.write(`${usage(`${PROGRAM} [options] | ${PROGRAM} COMMAND`, SERVER_OPTIONS)}${ADMIN_USAGE}\n`);
  const config = resolveConfig(ServerConfig, SERVER_OPTIONS, values, process.env, join('data', 'server.json'));
  const log = createLogger({ name: PROGRAM, level: config.logLevel });
  const server = await startServer(config, log);
  const sig = await untilSignal();
  log.info({ signal: sig }, 'shutting down');
  await server.close();
}

runCli(PROGRAM, () => main(process.argv.slice(2)));
