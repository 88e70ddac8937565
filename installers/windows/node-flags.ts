/**
 * The node flags of shared/node-flags.ts as a C header for the Windows service host, which
 * puts them on every node.exe command line it builds (the agent in service-host.c, the
 * per-session nudge helper in helpers.c), so Windows runs node as the systemd unit and the
 * launchd launcher do, from one source of truth.
 */
import { AGENT_NODE_FLAGS } from '../../shared/node-flags.js';

/** `#define CG_NODE_FLAGS L"--a --b"`; a flag that would need quoting on a command line is refused. */
export function nodeFlagsHeader(flags: readonly string[] = AGENT_NODE_FLAGS): string {
  for (const f of flags) {
    if (!/^--[a-z0-9-]+(=[A-Za-z0-9.,_-]+)?$/.test(f)) throw new Error(`node flag ${JSON.stringify(f)}: expected --name or --name=value without spaces or quotes`);
  }
  return [
    '/* Generated from shared/node-flags.ts by installers/windows/msi.ts: edit that file, not this one. */',
    '#ifndef CONSULTGUARD_NODE_FLAGS_H',
    '#define CONSULTGUARD_NODE_FLAGS_H',
    `#define CG_NODE_FLAGS L"${flags.join(' ')}"`,
    '#endif',
    '',
  ].join('\n');
}
