/**
 * Entry-point plumbing shared by both CLIs: a user error is one line on stderr and a
 * defined exit status (2 for bad options, config, policy or input); anything else is a
 * bug, printed with its stack, exit 1.
 */
import { AppError } from './errors.js';

const USAGE_CODES = new Set(['bad_option', 'bad_config', 'bad_policy', 'policy_not_found', 'bad_snapshot']);

function exitCodeFor(err: unknown): number {
  return err instanceof AppError && USAGE_CODES.has(err.code) ? 2 : 1;
}

export function runCli(program: string, main: () => Promise<number | void>): void {
  main().then(
    (code) => {
      if (typeof code === 'number') process.exitCode = code;
    },
    (err: unknown) => {
      if (err instanceof AppError) process.stderr.write(`${program}: ${err.message}\n`);
      else process.stderr.write(`${program}: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
      process.exitCode = exitCodeFor(err);
    },
  );
}

/** Resolves on the first SIGINT or SIGTERM (service stop, Ctrl-C). */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (sig: NodeJS.Signals) => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(sig);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}
