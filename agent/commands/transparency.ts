/**
 * `consultguard-agent transparency [--open] [--dir DIR] [--state DIR]`: "What ConsultGuard
 * sees" for the clinician: consult hours, what is collected and when, who sees it, how long
 * it is kept, whom to ask. Prints it; with --open writes it as a local HTML page and opens
 * it in the user's browser (xdg-open, open, explorer). The Linux installer adds an app-menu
 * entry running `transparency --open`; Windows and macOS have no tray icon of ConsultGuard,
 * so there the nudge's action and this command are the ways in.
 */
import { join } from 'node:path';
import { EffectivePolicy } from '../../shared/policy.js';
import { launch, openCommand } from '../nudge/open.js';
import { helperNudgeRoots } from '../nudge/rendezvous.js';
import { readState } from '../state.js';
import { transparencySections, type Section } from '../privacy/describe.js';
import { writeTransparencyPage } from '../privacy/page.js';
import { readSees } from '../privacy/sees-file.js';

export interface TransparencyArgs {
  open?: boolean;
  dir?: string;
  state?: string;
}

export function findSections(args: TransparencyArgs): Section[] | null {
  for (const root of helperNudgeRoots(args.dir)) {
    const sees = readSees(root);
    if (sees) return sees;
  }
  if (args.state) {
    const policy = readState(join(args.state, 'policy.json'), EffectivePolicy);
    if (policy.state === 'ok') return transparencySections(policy.value);
  }
  return null;
}

export async function runTransparency(args: TransparencyArgs, out: NodeJS.WritableStream): Promise<number> {
  const sections = findSections(args);
  if (!sections) {
    out.write('What ConsultGuard sees: not known yet on this computer (the agent writes it once it has its policy from the server). Ask your clinic\'s privacy officer.\n');
    return 3;
  }
  out.write(['What ConsultGuard sees', ...sections.flatMap((s) => ['', `${s.heading}:`, ...s.lines.map((l) => `  ${l}`)])].join('\n') + '\n');
  if (args.open) {
    const page = writeTransparencyPage(sections);
    const problem = await launch(openCommand(process.platform, page.url));
    out.write(problem ? `\nCould not open a browser (${problem}); the page is ${page.file}\n` : `\nOpened ${page.file}\n`);
  }
  return 0;
}
