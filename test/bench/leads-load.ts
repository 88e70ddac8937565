/**
 * Leads' report load for `server.ack_p99_ms_under_reports` (reports.ts), as its own process so
 * that reading a year's CSV does not slow the measuring agent's event loop (leads and agents
 * are different machines): `node leads-load.js PORT TOKEN SINCE_ISO` runs two leads until its
 * stdin closes: one loads year-long trends then the filter lists, again and again; the other
 * exports a year's CSV (read to the end), again and again. Then it prints
 * `{ rounds, trends, csvBytes }` on stdout (whole CSV exports, trends answers, CSV bytes read,
 * the cut last export included).
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
// Each lead on its own: the trends lead does not wait for a year's CSV to finish.
const trendsLead = async () => {
  while (!stopped) {
    await get(`/api/trends?since=${since}`).then(() => (trends++, get('/api/filters'))).catch(() => {}); // aborted at stop
  }
};
const csvLead = async () => {
  while (!stopped) {
    await get(`/api/violations.csv?since=${since}`, (n) => (csvBytes += n)).catch(() => {});
    if (!stopped) rounds++;
  }
};
const done = Promise.all([trendsLead(), csvLead()]);
process.stdin.resume();
process.stdin.on('end', () => {
  stopped = true;
  ctl.abort();
  void done.then(() => process.stdout.write(`${JSON.stringify({ rounds, trends, csvBytes })}\n`));
});
