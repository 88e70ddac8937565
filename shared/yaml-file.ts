/**
 * Reads a YAML or JSON file written by a person and validates it against a zod schema.
 * Errors name the file, the line and the field: `policies/clinic.yaml:12: consultHours[0].from: ...`.
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { createRequire } from 'node:module';
import type { z } from 'zod';
import { AppError } from './errors.js';
import { firstIssue } from './zod-errors.js';

export interface LocatedDoc {
  file: string;
  data: unknown;
  /** Line (1-based) of the node at `path`, or of its nearest ancestor. */
  lineOf(path: readonly PropertyKey[]): number;
}

export function displayPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel.startsWith('..') ? file : rel;
}

// Loaded on first use: the agent's `run` with a JSON config never needs a YAML parser in memory.
let yamlModule: typeof import('yaml') | undefined;
const yaml = (): typeof import('yaml') => (yamlModule ??= createRequire(import.meta.url)('yaml') as typeof import('yaml'));

export function readLocated(file: string, code: 'bad_policy' | 'bad_config' = 'bad_policy'): LocatedDoc {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new AppError(code, `${displayPath(file)}: cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
  if (file.toLowerCase().endsWith('.json')) {
    // Plain JSON parses without the YAML parser; only a failure needs line positions.
    try {
      const data: unknown = JSON.parse(text);
      return { file, data, lineOf: (path) => readLocatedYaml(file, text, code).lineOf(path) };
    } catch {
      // fall through to the YAML parser for a located syntax error
    }
  }
  return readLocatedYaml(file, text, code);
}

function readLocatedYaml(file: string, text: string, code: 'bad_policy' | 'bad_config'): LocatedDoc {
  const { LineCounter, parseDocument, isNode } = yaml();
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true });
  const parseError = doc.errors[0];
  if (parseError) {
    const line = parseError.linePos?.[0].line ?? 1;
    const msg = parseError.message.split('\n')[0] ?? 'syntax error';
    throw new AppError(code, `${displayPath(file)}:${line}: syntax error: ${msg}`);
  }
  return {
    file,
    data: doc.toJS({ maxAliasCount: 100 }),
    lineOf(path) {
      for (let n = path.length; n >= 0; n--) {
        const node = doc.getIn(path.slice(0, n) as unknown[], true);
        if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
      }
      return 1;
    },
  };
}

/** Validates a located document; the error names file, line and field. */
export function validateLocated<S extends z.ZodType>(
  doc: LocatedDoc,
  schema: S,
  code: 'bad_policy' | 'bad_config' = 'bad_policy',
): z.infer<S> {
  const result = schema.safeParse(doc.data);
  if (result.success) return result.data;
  const { path, line } = firstIssue(result.error);
  throw new AppError(code, `${displayPath(doc.file)}:${doc.lineOf(path)}: ${line}`);
}

export function loadValidated<S extends z.ZodType>(file: string, schema: S, code: 'bad_policy' | 'bad_config' = 'bad_policy'): z.infer<S> {
  return validateLocated(readLocated(file, code), schema, code);
}
