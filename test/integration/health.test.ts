/**
 * /healthz and /metrics tell the truth: each check below breaks a real part under a
 * running server (the SQLite file, a syslog receiver) and watches the report change,
 * then repairs it and watches it recover. Linux shows it here; the store checks are the
 * same SQLite calls on every OS, and Windows cannot delete an open store file at all.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Health } from '../../shared/api-types.js';
import { startTestServer, tempDir, TEST_SECRET, type TestServer } from '../support/server.js';
import { connectRaw, eventFrame, helloFrame, makeEvent } from '../support/ws-client.js';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function health(s: TestServer) {
  const r = await s.fetchJson('/healthz', null);
  return { status: r.status, body: Health.parse(r.body) };
}

/** A real pino logger whose lines the test can read. */
function capture() {
  const lines: Array<{ level: number; msg: string }> = [];
  const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l) as { level: number; msg: string }) });
  return { log, lines, count: (re: RegExp, level?: number) => lines.filter((l) => re.test(l.msg) && (level === undefined || l.level === level)).length };
}

async function metric(s: TestServer, series: string): Promise<number | undefined> {
  const text = await (await fetch(`${s.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('/healthz: store', () => {
  it('reports ok with the policy version agents receive, and the store answering', async () => {
    server = await startTestServer();
    const c = await connectRaw(server.wsUrl);
    c.send(helloFrame({ enrollSecret: TEST_SECRET }));
    const welcome = await c.next('welcome');
    const { status, body } = await health(server);
    expect(status).toBe(200);
    expect(body).toMatchObject({ ok: true, status: 'ok', store: { state: 'ok', problem: null }, policy: { error: null, watch: { state: 'ok' } }, agentsOnline: 1, forward: {} });
    expect(body.policy.policies).toEqual([{ name: 'demo', version: welcome.policy.version }]);
    expect(await metric(server, 'consultguard_store_up')).toBe(1);
    c.close();
  });

  it('answers 503 store_unavailable while the schema is damaged by another process, and recovers when it is repaired', async () => {
    const logs = capture();
    server = await startTestServer({ log: logs.log });
    const other = new Database(join(server.dataDir, 'consultguard.db'));
    try {
      other.exec('ALTER TABLE violations RENAME TO violations_moved');
      const down = await server.fetchJson('/healthz', null);
      expect(down.status).toBe(503);
      const body = Health.parse(down.body);
      expect(body).toMatchObject({ ok: false, status: 'down', error: { code: 'store_unavailable' }, store: { state: 'failing', lastError: 'SQLITE_ERROR' } });
      expect(body.error!.message).toMatch(/schema is damaged/);
      // Our words only: SQLite's own text ("no such table: violations") stays in the log.
      expect(JSON.stringify(down.body)).not.toMatch(/no such table/i);
      expect(await metric(server, 'consultguard_store_up')).toBe(0);
      expect(await metric(server, 'consultguard_store_check_failures_total{target="sqlite"}')).toBeGreaterThanOrEqual(2);
      expect(logs.count(/^store failing/, 40)).toBe(1); // once per streak, however often it is asked

      other.exec('ALTER TABLE violations_moved RENAME TO violations');
      expect(await health(server)).toMatchObject({ status: 200, body: { ok: true, status: 'ok', store: { state: 'ok', streaks: 1 } } });
      expect(logs.count(/^store recovered/, 30)).toBe(1);
    } finally {
      other.close();
    }
  });

  it('answers 503 when the store file is replaced under the running server', async () => {
    server = await startTestServer();
    const file = join(server.dataDir, 'consultguard.db');
    const impostor = join(server.dataDir, 'restored.db');
    new Database(impostor).close();
    renameSync(impostor, file);
    const { status, body } = await health(server);
    expect(status).toBe(503);
    expect(body.error).toMatchObject({ code: 'store_unavailable', message: expect.stringMatching(/deleted or replaced.*restart the server/) });
  });
});

describe('/healthz: SIEM forwarding over TCP syslog', () => {
  const sockets = new Set<Socket>();
  let received = '';
  function receiver(port = 0): Promise<Server> {
    const srv = createServer((s) => {
      sockets.add(s);
      s.on('data', (d) => (received += d.toString()));
      s.on('close', () => sockets.delete(s));
    });
    return new Promise((resolve) => srv.listen(port, '127.0.0.1', () => resolve(srv)));
  }
  async function stop(srv: Server): Promise<void> {
    const closed = new Promise<void>((r) => srv.close(() => r()));
    for (const s of sockets) s.destroy();
    await closed;
  }

  it('shows the target failing while the receiver is down, then reconnects and delivers what waited', async () => {
    let rx = await receiver();
    const port = (rx.address() as { port: number }).port;
    const logs = capture();
    server = await startTestServer({ forwardSyslog: `tcp://127.0.0.1:${port}`, log: logs.log } as never);
    await vi.waitFor(async () => expect((await health(server!)).body.forward.syslog).toMatchObject({ state: 'ok', target: `tcp://127.0.0.1:${port}` }), { timeout: 10_000 });

    const c = await connectRaw(server.wsUrl);
    c.send(helloFrame({ enrollSecret: TEST_SECRET }));
    await c.next('welcome');
    const first = makeEvent();
    c.send(eventFrame(1, [first]));
    await c.next('ack');
    await vi.waitFor(() => expect(received).toContain(first.id), { timeout: 10_000 });

    await stop(rx);
    await vi.waitFor(async () => {
      const { status, body } = await health(server!);
      expect(status).toBe(200); // events are still stored: degraded, not down
      expect(body).toMatchObject({ ok: true, status: 'degraded', forward: { syslog: { state: 'failing', lastError: 'ECONNREFUSED' } } });
    }, { timeout: 10_000 });
    expect(await metric(server, 'consultguard_forward_up{target="syslog"}')).toBe(0);
    // It keeps retrying (back-off 0.5 s, 1 s, 2 s ...) but says so once per streak.
    await vi.waitFor(async () => expect((await health(server!)).body.forward.syslog!.failures).toBeGreaterThanOrEqual(2), { timeout: 10_000 });
    expect(await metric(server, 'consultguard_forward_failures_total{target="syslog"}')).toBeGreaterThanOrEqual(2);
    expect(logs.count(/syslog tcp:\/\/127\.0\.0\.1:\d+ failing/, 40)).toBe(1);

    const whileDown = makeEvent();
    c.send(eventFrame(2, [whileDown]));
    await c.next('ack');
    expect((await health(server)).body.forward.syslog).toMatchObject({ queued: 1 });

    rx = await receiver(port);
    await vi.waitFor(async () => expect((await health(server!)).body).toMatchObject({ status: 'ok', forward: { syslog: { state: 'ok', queued: 0, streaks: 1 } } }), { timeout: 20_000 });
    await vi.waitFor(() => expect(received).toContain(whileDown.id), { timeout: 10_000 });
    expect(await metric(server, 'consultguard_forward_up{target="syslog"}')).toBe(1);
    expect(logs.count(/syslog tcp:\/\/127\.0\.0\.1:\d+ recovered/, 30)).toBe(1);
    c.close();
    await server.close();
    server = undefined;
    await stop(rx);
  });
});

describe('/healthz: SIEM forwarding to a file', () => {
  it('shows the file failing while its folder cannot be made, and recovers on the next event once it can', async () => {
    const dir = tempDir();
    const blocker = join(dir, 'siem');
    writeFileSync(blocker, 'a file where the folder should be');
    const target = join(blocker, 'events.jsonl');
    const logs = capture();
    server = await startTestServer({ forwardFile: target, log: logs.log });
    expect((await health(server)).body).toMatchObject({ status: 'degraded', forward: { file: { state: 'failing', path: target } } });
    expect(await metric(server, 'consultguard_forward_up{target="file"}')).toBe(0);

    const c = await connectRaw(server.wsUrl);
    c.send(helloFrame({ enrollSecret: TEST_SECRET }));
    await c.next('welcome');
    c.send(eventFrame(1, [makeEvent()]));
    await c.next('ack'); // stored and acked although the SIEM copy failed
    expect((await health(server)).body.forward.file).toMatchObject({ state: 'failing', failures: 2, streaks: 1 });
    expect(logs.count(/SIEM file .* failing/, 40)).toBe(1);

    rmSync(blocker);
    const e = makeEvent();
    c.send(eventFrame(2, [e]));
    await c.next('ack');
    expect((await health(server)).body).toMatchObject({ status: 'ok', forward: { file: { state: 'ok' } } });
    expect(JSON.parse(readFileSync(target, 'utf8').trim())).toMatchObject({ id: e.id });
    expect(logs.count(/SIEM file .* recovered/, 30)).toBe(1);
    c.close();
  });
});
