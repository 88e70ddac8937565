import type { z } from 'zod';

/** `processes[3].pid` from a zod issue path. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out === '' ? '(top level)' : out;
}

/**
 * One line naming the first bad field: `processes[3].pid: expected number, got string`.
 * Zod's own messages already say "expected X, received Y"; we prefix the field path.
 */
export function firstIssue(error: z.ZodError): { path: readonly PropertyKey[]; line: string } {
  const issue = error.issues[0];
  if (!issue) return { path: [], line: 'invalid value' };
  return { path: issue.path, line: `${formatPath(issue.path)}: ${issue.message}` };
}
