// A stand-in for consultguard-collector.exe that answers from a recording, for tests that
// cannot run wine: `node replay-collector.mjs RECORDING.gz LOG [MODE]`. Line 1 of RECORDING answers
// `poll basic`, line 2 `tcp`, line 3 `cmd ...`; every request is appended to LOG. MODE `silent` never
// answers (timeouts), `garbage` answers with a line that is not JSON.
import { appendFileSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import process from 'node:process';
import { createInterface } from 'node:readline';

const [recording, log, mode] = process.argv.slice(2);
const [poll, tcp, cmd] = gunzipSync(readFileSync(recording)).toString('utf8').split('\n');
for await (const line of createInterface({ input: process.stdin })) {
  appendFileSync(log, `${line}\n`);
  if (mode === 'silent') continue;
  if (mode === 'garbage') process.stdout.write('not json\n');
  else if (line === 'poll basic') process.stdout.write(`${poll}\n`);
  else if (line === 'tcp') process.stdout.write(`${tcp}\n`);
  else if (line.startsWith('cmd ')) process.stdout.write(`${cmd}\n`);
  else process.stdout.write('{"ok":0,"error":"unknown request"}\n');
}
