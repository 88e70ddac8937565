#!/usr/bin/env node
/** `consultguard-server`: the policy server, and its admin commands. */
import { join, resolve } from 'node:path';
import { parseCommandLine, resolveConfig, usage, type OptionSpec } from '../shared/config.js';
import { AppError } from '../shared/errors.js';
import { runCli, untilSignal } from '../shared/cli.js';
import { createLogger } from '../shared/log.js';
import { ServerConfig, SERVER_OPTIONS } from './config.js';
import { startServer } from './main.js';
import { createStore } from './store/index.js';

const PROGRAM = 'consultguard-server';
const DATA_ONLY: OptionSpec[] = SERVER_OPTIONS.filter((o) => o.key === 'dataDir');

async function main(argv: string[]): Promise<number | void> {
  const [first, second] = argv;
  if (first === 'token') {
    if (second !== 'create') throw new AppError('bad_option', `unknown command "token ${second ?? ''}"; try "token create --role lead"`);
    const { values } = parseCommandLine(argv.slice(2), DATA_ONLY, { role: 'string', name: 'string' });
    if (values.help) return void process.stdout.write(`usage: ${PROGRAM} token create --role lead|admin [--name TEXT] [--data DIR]\n`);
    const role = values.role;
    if (role !== 'lead' && role !== 'admin') throw new AppError('bad_option', `--role: expected lead or admin, got ${role === undefined ? 'nothing' : `"${String(role)}"`}`);
    const config = resolveConfig(ServerConfig, DATA_ONLY, values, process.env);
    const store = createStore(resolve(config.dataDir));
    try {
      const { token } = store.apiTokens.create(role, (values.name as string | undefined) ?? null);
      process.stdout.write(`${token}\n`);
    } finally {
      store.close();
    }
    return;
  }
  if (first !== undefined && !first.startsWith('-')) {
    throw new AppError('bad_option', `unknown command "${first}"; commands: (none) to run the server, token create`);
  }
  const { values } = parseCommandLine(argv, SERVER_OPTIONS);
  if (values.help) return void process.stdout.write(usage(`${PROGRAM} [options] | ${PROGRAM} token create --role lead|admin`, SERVER_OPTIONS));
  const config = resolveConfig(ServerConfig, SERVER_OPTIONS, values, process.env, join('data', 'server.json'));
  const log = createLogger({ name: PROGRAM, level: config.logLevel });
  const server = await startServer(config, log);
  const sig = await untilSignal();
  log.info({ signal: sig }, 'shutting down');
  await server.close();
}

runCli(PROGRAM, () => main(process.argv.slice(2)));
