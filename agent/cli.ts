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
      // Every server URL is checked before anything starts: a bad one exits 2 naming it.
      const { serverEndpoints } = await import('./servers.js');
      serverEndpoints(config.serverUrl, config.insecure);
      // A service has no terminal: log to a rotated file unless told otherwise.
      const toStderr = config.logFile === '-' || (config.logFile === undefined && process.stderr.isTTY);
      const destination = toStderr ? undefined : await rotatingFile(config.logFile ?? join(defaultLogDir(), 'agent'));
      const log = createLogger({ name: PROGRAM, level: config.logLevel, destination });
      // Stop signals are caught before the agent starts: one that arrives while a module
      // below loads (the agent may already be connected) stops it cleanly instead of killing it.
      const signalled = untilSignal();
      // Commands load their own modules: `run` (the service) carries only what it uses.
      const { startAgent } = await import('./main.js');
      const { untilStopRequest } = await import('./service-stop.js');
      const agent = startAgent(config, log);
      // A daemon outlives the terminal or session that started it: SIGHUP (a closed terminal;
      // on Windows the console's close, which the service host never gives node) is logged, not
      // fatal. CTRL_LOGOFF/SHUTDOWN never reach the agent: the host starts it without a console.
      process.on('SIGHUP', () => log.info('SIGHUP ignored: the agent keeps running (stop it through the service manager)'));
      const stopRequest = untilStopRequest(process.env, log);
      const sig = await Promise.race([signalled, ...(stopRequest ? [stopRequest] : [])]);
      log.info({ signal: sig }, 'stopping');
      await agent.stop();
      return;
    }
    case 'scan': {
      const { values } = parseCommandLine(rest, [], { snapshot: 'string', live: 'boolean', policies: 'string', 'with-snapshot': 'boolean' });
      if (values.help) return void process.stdout.write(`usage: ${PROGRAM} scan --snapshot FILE [--policies DIR] | ${PROGRAM} scan --live [--policies DIR] [--with-snapshot]\n`);
      const { runScan } = await import('./commands/scan.js');
      const v = values as { snapshot?: string; live?: boolean; policies?: string; 'with-snapshot'?: boolean };
      await runScan({ ...v, withSnapshot: v['with-snapshot'] === true }, process.stdout);
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
      const { values } = parseCommandLine(rest, [], { dir: 'string', 'log-level': 'string', 'log-file': 'string', 'handle-url': 'string' });
      if (values.help) return void process.stdout.write(`usage: ${PROGRAM} nudge-helper [--dir DIR] [--log-level L] [--log-file PATH|-] [--handle-url consultguard:...]\nruns in a user's desktop session (the service or the login starts it); DIR (or CONSULTGUARD_NUDGE_DIR) must match the agent's --nudge-dir; by default it watches the service's nudge folder and this user's own\n`);
      // Per-user log file unless on a terminal: the service, launchd or autostart give it no stderr
      // anyone reads. On Windows the hidden console the service gives it counts as a TTY too.
      const { helperLogFile } = await import('./nudge/helper-paths.js');
      const logFile = values['log-file'] as string | undefined;
      const onTerminal = process.stderr.isTTY && process.platform !== 'win32';
      let destination: Awaited<ReturnType<typeof rotatingFile>> | undefined;
      let noLogFile: string | null = null;
      if (!(logFile === '-' || (logFile === undefined && onTerminal))) {
        const path = logFile ?? helperLogFile();
        try {
          destination = await rotatingFile(path);
        } catch (err) {
          // A user without a writable home (a service account, HOME=/nonexistent) still gets
          // nudges: log to stderr instead, and say so once.
          noLogFile = `cannot write the helper log at ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'}); logging to stderr; pass --log-file PATH to choose another`;
        }
      }
      const log = createLogger({ name: `${PROGRAM} nudge-helper`, level: (values['log-level'] as string | undefined) ?? process.env.CONSULTGUARD_LOG_LEVEL ?? 'info', destination });
      if (noLogFile) log.warn(noLogFile);
      if (values['handle-url'] !== undefined) {
        const { runHandleUrl } = await import('./commands/handle-url.js');
        return runHandleUrl(values['handle-url'] as string, log);
      }
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
