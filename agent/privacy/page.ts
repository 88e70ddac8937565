/**
 * "What ConsultGuard sees" as a local HTML file in the user's own temp folder, opened in
 * their default browser (xdg-open / open / explorer): no server, no network, readable
 * offline. The words come from agent/privacy/describe.ts.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { transparencyHtmlFrom, type Section } from './describe.js';

export function writeTransparencyPage(sections: Section[], dir?: string): { file: string; url: string } {
  const folder = dir ?? join(tmpdir(), `consultguard-${process.getuid?.() ?? 'user'}`);
  mkdirSync(folder, { recursive: true, mode: 0o700 });
  const file = join(folder, 'what-consultguard-sees.html');
  writeFileSync(file, transparencyHtmlFrom(sections), { mode: 0o600 });
  return { file, url: pathToFileURL(file).href };
}
