/**
 * Program options from four places, in order of precedence: command line, environment
 * (CONSULTGUARD_*), config file (JSON or YAML), defaults. One option table per program;
 * the merged object is validated by that program's zod schema. A bad option exits with
 * status 2 and one line naming it.
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { z } from 'zod';
import { AppError } from './errors.js';
import { loadValidated } from './yaml-file.js';
import { formatPath } from './zod-errors.js';

export interface OptionSpec {
  /** Key in the config object and in the config file. */
  key: string;
  /** --flag name. */
  flag: string;
  env: string;
  type: 'string' | 'boolean' | 'number';
  describe: string;
}

export interface ParsedCommand {
  values: Record<string, unknown>;
  positionals: string[];
}

/** Parses argv strictly: an unknown flag or a missing value is a `bad_option` error naming it. */
export function parseCommandLine(argv: string[], specs: OptionSpec[], extra: Record<string, 'string' | 'boolean'> = {}): ParsedCommand {
  const options: Record<string, { type: 'string' | 'boolean' }> = {};
  for (const s of specs) options[s.flag] = { type: s.type === 'boolean' ? 'boolean' : 'string' };
  for (const [flag, type] of Object.entries(extra)) options[flag] = { type };
  options.config = { type: 'string' };
  options.help = { type: 'boolean' };
  try {
    const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    return { values: values as Record<string, unknown>, positionals };
  } catch (err) {
    const msg = (err as Error).message.split('\n')[0] ?? String(err);
    throw new AppError('bad_option', `${msg.replace(/\. To specify .*$/, '')}; run with --help for the options`);
  }
}

/** Merges command line, environment, file and defaults, then validates with `schema`. */
export function resolveConfig<S extends z.ZodType>(
  schema: S,
  specs: OptionSpec[],
  cli: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  defaultFile?: string,
): z.infer<S> {
  const fileName = (cli.config as string | undefined) ?? env.CONSULTGUARD_CONFIG ?? defaultFile;
  let fromFile: Record<string, unknown> = {};
  if (fileName && (cli.config !== undefined || env.CONSULTGUARD_CONFIG !== undefined || existsSync(fileName))) {
    const data = loadValidated(fileName, (schema as unknown as z.ZodObject).partial().passthrough(), 'bad_config') as Record<string, unknown>;
    fromFile = data;
  }
  const merged: Record<string, unknown> = { ...fromFile };
  for (const s of specs) {
    const fromEnv = env[s.env];
    const raw = cli[s.flag] ?? (fromEnv === undefined || fromEnv === '' ? undefined : fromEnv);
    if (raw === undefined) continue;
    merged[s.key] = coerce(s, raw, cli[s.flag] !== undefined ? `--${s.flag}` : s.env);
  }
  const result = schema.safeParse(merged);
  if (!result.success) {
    const issue = result.error.issues[0];
    const key = issue ? String(issue.path[0] ?? '') : '';
    const spec = specs.find((s) => s.key === key);
    const where = spec ? `--${spec.flag} (${spec.env})` : formatPath(issue?.path ?? []);
    throw new AppError('bad_option', `${where}: ${issue?.message ?? 'invalid'}`);
  }
  return result.data;
}

function coerce(spec: OptionSpec, raw: unknown, where: string): unknown {
  if (spec.type === 'number') {
    const n = typeof raw === 'number' ? raw : Number(raw);
    if (!Number.isFinite(n)) throw new AppError('bad_option', `${where}: expected a number, got "${String(raw)}"`);
    return n;
  }
  if (spec.type === 'boolean' && typeof raw === 'string') {
    if (/^(1|true|yes|on)$/i.test(raw)) return true;
    if (/^(0|false|no|off)$/i.test(raw)) return false;
    throw new AppError('bad_option', `${where}: expected true or false, got "${raw}"`);
  }
  return raw;
}

export function usage(command: string, specs: OptionSpec[]): string {
  const lines = specs.map((s) => `  --${s.flag.padEnd(18)} ${s.describe} [${s.env}]`);
  return `usage: ${command}\n${lines.join('\n')}\n  --config FILE        config file (JSON or YAML) [CONSULTGUARD_CONFIG]\n`;
}
