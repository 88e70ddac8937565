/**
 * `npm run bench`: runs every benchmark on this machine and writes bench-results.json
 * (CONTRACTS section 5). Pass names to run only some: `npm run bench -- detect`.
 */
import { benchDetect } from './detect.js';
import { benchAgentMemory, benchIdle, benchPoll } from './agent.js';
import { benchConnections, benchFeed, benchIngest } from './server.js';
import { writeResults, type BenchResults } from './results.js';
import { benchWinPoll } from './win.js';
import { benchPgConnections, benchPgFeed, benchPgIngest } from './pg.js';
import { benchReports } from './reports.js';
import { benchPresence } from './presence.js';
import { benchPgTrends } from './reports-pg.js';

const BENCHES: Record<string, () => BenchResults | Promise<BenchResults>> = {
  detect: benchDetect,
  poll: benchPoll,
  'agent-memory': benchAgentMemory,
  idle: benchIdle,
  ingest: benchIngest,
  connections: benchConnections,
  feed: benchFeed,
  'pg-ingest': benchPgIngest,
  'pg-connections': benchPgConnections,
  'pg-feed': benchPgFeed,
  presence: benchPresence,
  'win-poll': benchWinPoll,
  reports: benchReports,
  'pg-trends': benchPgTrends,
};

/** Names that stand for several benchmarks: `npm run bench -- server` runs the server's. */
const GROUPS: Record<string, string[]> = { server: ['ingest', 'connections', 'feed'], agent: ['poll', 'agent-memory', 'idle'] };

const only = process.argv.slice(2).flatMap((name) => GROUPS[name] ?? [name]);
const results: BenchResults = {};
for (const [name, run] of Object.entries(BENCHES)) {
  if (only.length && !only.includes(name)) continue;
  process.stderr.write(`bench: ${name}...\n`);
  Object.assign(results, await run());
}
for (const [name, r] of Object.entries(results)) {
  process.stdout.write(`${name.padEnd(32)} ${String(r.value).padStart(10)} ${r.unit.padEnd(10)} ${r.ratio !== undefined ? `ratio ${r.ratio} ` : ''}${r.note}\n`);
}
process.stdout.write(`wrote ${writeResults(results)}\n`);
