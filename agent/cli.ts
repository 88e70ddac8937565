#!/usr/bin/env node
/** `consultguard-agent`: the endpoint agent (`run`) and its tools (`scan`). */
import { parseCommandLine, resolveConfig, usage } from '../shared/config.js';
import { AppError } from '../shared/errors.js';
import { runCli, untilSignal } from '../shared/cli.js';
import { join } from 'node:path';
import { createLogger, rotatingFile } from '../shared/log.js';
import { AGENT_OPTIONS, AgentConfig, defaultConfigFile, defaultLogDir, defaultStateDir } from './config.js';

const PROGRAM = 'consultguard-agent';
const COMMANDS = 'run, status, scan, record, nudge-helper, transparency, exception';

async function main(argv: string[]): Promise<number | void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'run': {
      const { values } = parseCommandLine(rest, AGENT_OPTIONS);
      if (values.help) return void process.stdout.write(usage(`${PROGRAM} run [options]`, AGENT_OPTIONS));
      const config = resolveConfig(AgentConfig, AGENT_OPTIONS, values, process.env, defaultConfigFile());
      // A service has no terminal: log to a rotated file unless told otherwise.
      const toStderr = config.logFile === '-' || (config.logFile === undefined && process.stderr.isTTY);
      const destination = toStderr ? undefined : await rotatingFile(config.logFile ?? join(defaultLogDir(), 'agent'));
      const log = createLogger({ name: PROGRAM, level: config.logLevel, destination });
      // Commands load their own modules: `run` (the service) carries only what it uses.
      const { startAgent } = await import('./main.js');
      const agent = startAgent(config, log);
      const sig = await untilSignal();
      log.info({ signal: sig }, 'stopping');
      await agent.stop();
      return;
    }
    case 'scan': {
      const { values } = parseCommandLine(rest, [], { snapshot: 'string', live: 'boolean', policies: 'string' });
      if (values.help) return void process.stdout.write(`usage: ${PROGRAM} scan --snapshot FILE [--policies DIR] | ${PROGRAM} scan --live [--policies DIR]\n`);
      const { runScan } = await import('./commands/scan.js');
      await runScan(values as { snapshot?: string; live?: boolean; policies?: string }, process.stdout);
      return;
    }
    case 'status': {
      const { values } = parseCommandLine(rest, [], { state: 'string', json: 'boolean' });
      if (values.help) return void process.stdout.write(`usage: ${PROGRAM} status [--state DIR] [--json]\n`);
      const stateDir = (values.state as string | undefined) ?? process.env.CONSULTGUARD_STATE_DIR ?? defaultStateDir();
      const { runStatus } = await import('./commands/status.js');
      return runStatus(stateDir, Boolean(values.json), new Date(), process.stdout);
    }
    case 'record': {
      const { values } = parseCommandLine(rest, [], { out: 'string', count: 'string', interval: 'string' });
      if (values.help) return void process.stdout.write(`usage: ${PROGRAM} record --out FILE.jsonl [--count N] [--interval SECONDS]\n`);
      const { runRecord } = await import('./commands/record.js');
      await runRecord(values as { out?: string; count?: string; interval?: string }, (line) => process.stderr.write(`${line}\n`));
      return;
    }
    case 'nudge-helper': {
      const { values } = parseCommandLine(rest, [], { dir: 'string', 'log-level': 'string' });
      if (values.help) return void process.stdout.write(`usage: ${PROGRAM} nudge-helper [--dir DIR] [--log-level L]\nruns in a user's desktop session (start it at login); DIR (or CONSULTGUARD_NUDGE_DIR) must match the agent's --nudge-dir; by default it watches the service's nudge folder and this user's own\n`);
      const log = createLogger({ name: `${PROGRAM} nudge-helper`, level: (values['log-level'] as string | undefined) ?? process.env.CONSULTGUARD_LOG_LEVEL ?? 'info' });
      const { runNudgeHelper } = await import('./commands/nudge-helper.js');
      await runNudgeHelper({ dir: values.dir as string | undefined }, log, untilSignal());
      return;
    }
    case 'transparency': {
      const { values } = parseCommandLine(rest, [], { open: 'boolean', dir: 'string', state: 'string' });
      if (values.help) return void process.stdout.write(`usage: ${PROGRAM} transparency [--open] [--dir NUDGE_DIR] [--state DIR]\nprints "What ConsultGuard sees"; --open shows it in the browser\n`);
      const { runTransparency } = await import('./commands/transparency.js');
      return runTransparency({ open: Boolean(values.open), dir: values.dir as string | undefined, state: (values.state as string | undefined) ?? process.env.CONSULTGUARD_STATE_DIR }, process.stdout);
    }
    case 'exception': {
      const { values } = parseCommandLine(rest, [], { app: 'string', reason: 'string', minutes: 'string', dir: 'string', list: 'boolean' });
      if (values.help) return void process.stdout.write(`usage: ${PROGRAM} exception --app APP --reason REASON [--minutes N] [--dir NUDGE_DIR] | ${PROGRAM} exception --list\n"I need this app for this consult": no nudges for APP for up to the policy's maximum; run it as the clinician\n`);
      const { runException } = await import('./commands/exception.js');
      return runException(values as { app?: string; reason?: string; minutes?: string; dir?: string; list?: boolean }, process.stdout);
    }
    case undefined:
    case '--help':
    case 'help':
      process.stdout.write(`usage: ${PROGRAM} <command> [options]\ncommands: ${COMMANDS}\nrun "${PROGRAM} <command> --help" for a command's options\n`);
      return command === undefined ? 2 : undefined;
    default:
      throw new AppError('bad_option', `unknown command "${command}"; commands: ${COMMANDS}`);
  }
}

runCli(PROGRAM, () => main(process.argv.slice(2)));
