/**
 * "What ConsultGuard sees" published by the agent in its nudge root as
 * `transparency.json` (0644 inside ROOT 0711: any local user can read this one known
 * name, nothing else), so `consultguard-agent transparency` and `exception --list` work
 * for a clinician who cannot read the service's state folder.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as z from 'zod';
import type { Section } from './describe.js';

export const SEES_FILE = 'transparency.json';
const Sections = z.array(z.object({ heading: z.string(), lines: z.array(z.string()) })).max(20);

export function writeSees(root: string, sections: Section[]): void {
  const file = join(root, SEES_FILE);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(sections, null, 1)}\n`, { mode: 0o644 });
  renameSync(`${file}.tmp`, file);
}

export function readSees(root: string): Section[] | null {
  try {
    const parsed = Sections.safeParse(JSON.parse(readFileSync(join(root, SEES_FILE), 'utf8')));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}
