/**
 * Load generator for the server benchmarks, run as its own process on loopback:
 *   node loadgen.js ingest URL AGENTS SECONDS BATCH   -> {"events": N, "seconds": S}
 *   node loadgen.js idle URL AGENTS                   -> connects, says "ready", holds until stdin closes
 * Each simulated agent enrols with the test secret and speaks protocol v1.
 */
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { TEST_SECRET } from '../support/server.js';

const [mode, url, agentsArg, secondsArg, batchArg] = process.argv.slice(2);
const agents = Number(agentsArg);

function hello() {
  return JSON.stringify({
    type: 'hello', protocol: 1, agentId: randomUUID(), enrollSecret: TEST_SECRET,
    host: { hostname: `LOAD-${Math.floor(Math.random() * 1e6)}`, platform: 'win32', osVersion: '10.0', agentVersion: 'load' },
  });
}

function connect(): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url!, { perMessageDeflate: false });
    ws.once('error', reject);
    ws.once('open', () => ws.send(hello()));
    // Only a welcome counts: a refusal (e.g. the enrolment secret's limit) fails the run
    // instead of being counted as a connected agent.
    ws.once('message', (d) => {
      const msg = JSON.parse(d.toString()) as { type: string; code?: string; message?: string };
      if (msg.type === 'welcome') resolve(ws);
      else reject(new Error(`the server answered the hello with ${msg.type}${msg.code ? ` ${msg.code}` : ''}: ${msg.message ?? ''}`));
    });
  });
}

async function connectAll(n: number): Promise<WebSocket[]> {
  const out: WebSocket[] = [];
  for (let i = 0; i < n; i += 100) out.push(...(await Promise.all(Array.from({ length: Math.min(100, n - i) }, connect))));
  return out;
}

if (mode === 'ingest') {
  const seconds = Number(secondsArg);
  const batchSize = Number(batchArg);
  const sockets = await connectAll(agents);
  let events = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(sockets.map((ws) => new Promise<void>((done) => {
    let batch = 0;
    const sendNext = () => {
      if (performance.now() > end) return done();
      batch++;
      const at = new Date().toISOString();
      const list = Array.from({ length: batchSize }, () => ({
        id: randomUUID(), violationId: randomUUID(), kind: 'started', app: 'zoom', state: 'running', via: 'process',
        user: 'CLINIC\\dr.lee', pids: [4120], evidence: ['process Zoom.exe (path matches Zoom install)'], at,
      }));
      ws.send(JSON.stringify({ type: 'events', batch, events: list }));
    };
    ws.on('message', (d) => {
      const msg = JSON.parse(d.toString()) as { type: string };
      if (msg.type === 'ack') {
        events += batchSize;
        sendNext();
      }
    });
    sendNext();
  })));
  const elapsed = (performance.now() - start) / 1000;
  process.stdout.write(`${JSON.stringify({ events, seconds: elapsed })}\n`);
  for (const ws of sockets) ws.terminate();
} else if (mode === 'idle') {
  const sockets = await connectAll(agents);
  process.stdout.write('ready\n');
  process.stdin.resume();
  process.stdin.on('end', () => {
    for (const ws of sockets) ws.terminate();
    process.exit(0);
  });
} else {
  process.stderr.write('usage: loadgen ingest URL AGENTS SECONDS BATCH | loadgen idle URL AGENTS\n');
  process.exit(2);
}
