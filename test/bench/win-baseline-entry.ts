/**
 * The baseline of agent.poll_cpu_ms_win, bundled by test/bench/win.ts and run in the
 * official node.exe under wine: `node.exe baseline.mjs N` does N polls the way the agent
 * did before the native collector (ps-list's fastlist.exe for processes,
 * systeminformation's `netstat -nao` for connections), one after the other.
 */
import psList from 'ps-list';
import si from 'systeminformation';

const polls = Number(process.argv[2] ?? '1');
let processes = 0;
let connections = 0;
for (let i = 0; i < polls; i++) {
  const [p, c] = await Promise.all([psList(), si.networkConnections()]);
  processes = p.length;
  connections = c.length;
}
process.stdout.write(`${polls} polls done: ${processes} processes, ${connections} connections\n`);
