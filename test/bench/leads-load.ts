/**
 * Leads' report load for `server.ack_p99_ms_under_reports` (reports.ts), as its own process so
 * that reading a year's CSV does not slow the measuring agent's event loop (leads and agents
 * are different machines): `node leads-load.js PORT TOKEN SINCE_ISO` loads year-long trends,
 * then the filter lists, beside a year's CSV export (read to the end), in a loop until its
 * stdin closes; then prints `{ rounds, trends, csvBytes }` on stdout (whole rounds, trends
 * answers, CSV bytes read, the cut last export included).
 */
const [portArg, token, since] = process.argv.slice(2);
if (!portArg || !token || !since) {
  process.stderr.write('usage: leads-load PORT TOKEN SINCE_ISO\n');
  process.exit(2);
}
let stopped = false;
let rounds = 0;
let trends = 0;
let csvBytes = 0;
const ctl = new AbortController();
const get = async (path: string, onBytes: (n: number) => void = () => {}): Promise<void> => {
  const r = await fetch(`http://127.0.0.1:${portArg}${path}`, { headers: { authorization: `Bearer ${token}` }, signal: ctl.signal });
  for await (const chunk of r.body!) onBytes((chunk as Uint8Array).length);
};
const loop = async () => {
  while (!stopped) {
    await Promise.all([
      get(`/api/trends?since=${since}`).then(() => (trends++, get('/api/filters'))),
      get(`/api/violations.csv?since=${since}`, (n) => (csvBytes += n)),
    ]).catch(() => {}); // aborted at stop
    if (!stopped) rounds++;
  }
};
const done = loop();
process.stdin.resume();
process.stdin.on('end', () => {
  stopped = true;
  ctl.abort();
  void done.then(() => process.stdout.write(`${JSON.stringify({ rounds, trends, csvBytes })}\n`));
});
