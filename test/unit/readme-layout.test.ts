/**
 * The README's Architecture diagram and folder table name real things: every `name/` is a
 * folder and every `name.ts` a file where the text puts it, and every subfolder of a
 * top-level folder is named in that folder's row (so a new folder cannot go unmentioned).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../shared/paths.js';

const root = packageRoot();
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const section = /## Architecture\n([\s\S]*?)\n## /.exec(readme)?.[1] ?? '';

/** Where `name` (a folder if it ends in "/", else a file) exists somewhere under `base`. */
function found(base: string, name: string): boolean {
  const dir = name.endsWith('/');
  const bare = name.replace(/\/$/, '');
  const walk = (d: string): boolean => readdirSync(d).some((f) => {
    const p = join(d, f);
    const isDir = statSync(p).isDirectory();
    if (f === bare && isDir === dir) return true;
    return isDir && f !== 'node_modules' && walk(p);
  });
  return existsSync(base) && walk(base);
}

describe('README architecture', () => {
  it('diagram: each part named at the start of a line exists, on the side it is drawn', () => {
    const diagram = /```\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
    const named: Array<[string, string]> = [];
    for (const line of diagram.split('\n')) {
      const boxes = line.split('│');
      // boxes[1] is the workstation (agent/), boxes[3] the policy server (server/).
      for (const [i, base] of [[1, 'agent'], [3, 'server']] as const) {
        const first = boxes[i]?.trim().split(/\s+/)[0] ?? '';
        if (/^[a-z-]+(\/|\.ts)$/.test(first)) named.push([base, first]);
      }
    }
    expect(named.length).toBeGreaterThan(10);
    expect(named.filter(([base, name]) => !found(join(root, base), name)).map(([b, n]) => `${b}: ${n}`)).toEqual([]);
  });

  it('folder table: every name exists as the kind it is written as, and every subfolder is named', () => {
    const rows = section.split('\n').filter((l) => /^\| `[a-z]+\/` \|/.test(l));
    expect(rows.length).toBeGreaterThanOrEqual(6);
    const problems: string[] = [];
    for (const row of rows) {
      const [, head, text] = row.split('|');
      const base = /`([a-z]+)\/`/.exec(head!)![1]!;
      const names = [...text!.matchAll(/`([A-Za-z0-9_.-]+(?:\/|\.ts))`/g)].map((m) => m[1]!);
      for (const n of names) if (!found(join(root, base), n) && !found(root, n)) problems.push(`${base}/: ${n} is not there`);
      for (const d of readdirSync(join(root, base))) {
        if (statSync(join(root, base, d)).isDirectory() && !names.includes(`${d}/`)) problems.push(`${base}/: folder ${d}/ is not named`);
      }
    }
    expect(problems).toEqual([]);
  });
});
