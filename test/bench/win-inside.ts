/**
 * agent.poll_cpu_ms_win inside its own network namespace: test/bench/win.ts runs
 * `unshare -n sh -c 'ip link set lo up && exec node win-inside.js OUT'`, and this writes the
 * result to OUT (stdout may carry wine's chatter).
 */
import { writeFileSync } from 'node:fs';
import { measureWinPoll } from './win.js';

const out = process.argv[2];
if (!out) throw new Error('usage: win-inside.js OUT');
writeFileSync(out, JSON.stringify(await measureWinPoll('a network namespace of its own (loopback only)')));
