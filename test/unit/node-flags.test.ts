/**
 * The agent's services start node with AGENT_NODE_FLAGS (shared/node-flags.ts): the
 * systemd unit and the macOS launcher carry them, and the flag does what its comment
 * claims on the node that runs here (a young generation capped at 2 MB semi-spaces, where
 * node's default lets it grow to 16 MB of resident garbage). What this cannot show: the
 * Windows service host's command line (installers/windows, C) is checked by the MSI tests.
 */
import { spawnSync } from 'node:child_process';
import { expect, it } from 'vitest';
import { launcherScript } from '../../installers/macos/launchd.js';
import { unitFile } from '../../installers/linux/templates.js';
import { AGENT_NODE_FLAGS } from '../../shared/node-flags.js';

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
