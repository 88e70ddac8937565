/**
 * The agent's services start node with AGENT_NODE_FLAGS (shared/node-flags.ts): the
 * systemd unit and the macOS launcher carry them, and the flag does what its comment
 * claims on the node that runs here (a young generation capped at 2 MB semi-spaces, where
 * node's default lets it grow to 16 MB of resident garbage). The Windows service host (C)
 * gets them from a header generated from node-flags.ts: every node.exe command line in its
 * sources uses that header, and the compiled host carries the flags in its command lines
 * (the MSI test under wine sees them on the running node.exe).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { launcherScript } from '../../installers/macos/launchd.js';
import { unitFile } from '../../installers/linux/templates.js';
import { compileServiceHost, SERVICE_HOST_SOURCES } from '../../installers/windows/msi.js';
import { nodeFlagsHeader } from '../../installers/windows/node-flags.js';
import { AGENT_NODE_FLAGS } from '../../shared/node-flags.js';
import { packageRoot } from '../../shared/paths.js';
import { skipUnless } from '../installers/build-once.js';
import { tempDir } from '../support/server.js';

// Allocates short-lived garbage the way a poll does, then reports the young generation's size.
const CHURN = `
const v8 = require('node:v8');
let keep = [];
for (let i = 0; i < 400000; i++) { keep.push({ pid: i, name: 'p' + i, args: [String(i)] }); if (keep.length > 2000) keep = []; }
const s = v8.getHeapSpaceStatistics().find((x) => x.space_name === 'new_space');
process.stdout.write(String(s.space_size));
`;

function newSpaceBytes(flags: readonly string[]): number {
  const r = spawnSync(process.execPath, [...flags, '-e', CHURN], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  expect(r.stderr).toBe(''); // an unknown or renamed V8 flag prints a warning here
  return Number(r.stdout);
}

it('the systemd unit and the macOS launcher start node with the agent flags', () => {
  expect(AGENT_NODE_FLAGS).toContain('--max-semi-space-size=2');
  const execStart = /^ExecStart=(.*)$/m.exec(unitFile())?.[1] ?? '';
  expect(execStart.split(' ').slice(1, 1 + AGENT_NODE_FLAGS.length)).toEqual([...AGENT_NODE_FLAGS]);
  expect(launcherScript()).toContain(`exec "$NODE" ${AGENT_NODE_FLAGS.join(' ')} "$ROOT/app/agent.mjs" "$@"`);
});

it('caps the young generation that node otherwise grows to 16 MB semi-spaces', () => {
  const capped = newSpaceBytes(AGENT_NODE_FLAGS);
  const uncapped = newSpaceBytes([]);
  expect(capped).toBeLessThanOrEqual(4 * 1024 * 1024);
  expect(uncapped).toBeGreaterThan(capped);
});

describe('the Windows service host', () => {
  const source = (f: string): string => readFileSync(join(packageRoot(), 'installers', 'windows', f), 'utf8');

  it('builds every node.exe command line with the generated flags', () => {
    expect(nodeFlagsHeader()).toContain(`#define CG_NODE_FLAGS L"${AGENT_NODE_FLAGS.join(' ')}"`);
    const lines = SERVICE_HOST_SOURCES.flatMap((f) => source(f).split('\n').filter((l) => l.includes('node\\\\node.exe\\"')));
    expect(lines.length).toBe(2); // the agent (service-host.c) and the per-session helper (helpers.c)
    for (const l of lines) expect(l).toContain('node.exe\\" " CG_NODE_FLAGS L" \\"');
  });

  it('refuses a flag that would need quoting on a Windows command line', () => {
    expect(() => nodeFlagsHeader(['--max-old-space-size=64', '--title=a b'])).toThrow(/--title=a b/);
  });

  it.skipIf(skipUnless('service host compile', ['x86_64-w64-mingw32-gcc']))('compiles the flags into the host\'s command lines', async () => {
    const dir = tempDir('cg-flags-');
    try {
      mkdirSync(join(dir, 'bin'));
      const exe = join(dir, 'bin', 'consultguard-service.exe');
      await compileServiceHost(packageRoot(), exe);
      const text = readFileSync(exe).toString('utf16le') + readFileSync(exe).subarray(1).toString('utf16le');
      const expected = `node\\node.exe" ${AGENT_NODE_FLAGS.join(' ')} "%lsapp\\agent.mjs"`;
      expect(text.split(expected).length - 1).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
