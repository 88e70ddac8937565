/** Policy files: clear errors naming file, line and field; bad edits keep the last good policy. */
import { copyFileSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Health } from '../../shared/api-types.js';
import { pino } from 'pino';
import { AppError } from '../../shared/errors.js';
import { packageRoot } from '../../shared/paths.js';
import { loadPolicies } from '../../shared/policy-load.js';
import { runCli } from '../support/processes.js';
import { startTestServer, tempDir, type TestServer } from '../support/server.js';
import { connectRaw, helloFrame } from '../support/ws-client.js';

const DEFAULT = join(packageRoot(), 'policies', 'default.yaml');
/** 1-based line of the first line containing `needle` in the shipped default policy. */
const lineOf = (needle: string): number => readFileSync(DEFAULT, 'utf8').split('\n').findIndex((l) => l.includes(needle)) + 1;
const FROM_LINE = lineOf('from: "08:00"');
const TZ_LINE = lineOf('timezone:');

function policyDir(edit?: (text: string) => string, name = 'clinic.yaml'): string {
  const dir = tempDir('cg-pol-');
  const text = readFileSync(DEFAULT, 'utf8');
  writeFileSync(join(dir, name), edit ? edit(text) : text);
  return dir;
}

function loadError(dir: string): AppError {
  try {
    loadPolicies(dir);
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error('expected loadPolicies to fail');
}

describe('policy files', () => {
  it('loads the shipped default and demo policies', () => {
    const set = loadPolicies(join(packageRoot(), 'policies'));
    expect(set.policies.map((p) => p.effective.name)).toEqual(['default']);
    const p = set.policies[0]!.effective;
    expect(p.monitor).toEqual(expect.arrayContaining(['zoom', 'facetime', 'whatsapp', 'messenger']));
    expect(p.timezone).toBe('Australia/Sydney');
    expect(p.approved.url).toMatch(/^https:/);
    expect(loadPolicies(join(packageRoot(), 'policies', 'demo')).policies[0]!.effective.consultHours[0]!.days).toHaveLength(7);
  });

  it.each([
    ['a bad time', (t: string) => t.replace('from: "08:00"', 'from: "8am"'), new RegExp(`clinic\\.yaml:${FROM_LINE}: consultHours\\[0\\]\\.from: expected a time as HH:MM`)],
    ['an unknown time zone', (t: string) => t.replace('timezone: Australia/Sydney', 'timezone: Mars/Olympus'), new RegExp(`clinic\\.yaml:${TZ_LINE}: timezone: expected an IANA time zone`)],
    ['an unknown app', (t: string) => t.replace('monitor: [zoom,', 'monitor: [zooom,'), /clinic\.yaml:\d+: monitor\.0: unknown app "zooom"/],
    ['a misspelt key', (t: string) => t.replace('closures:', 'closure:'), /clinic\.yaml:\d+: .*closure/],
    ['broken YAML', (t: string) => t.replace('approved:\n', 'approved: [\n'), /clinic\.yaml:\d+: syntax error/],
  ])('names file, line and field for %s', (_what, edit, pattern) => {
    const err = loadError(policyDir(edit));
    expect(err.code).toBe('bad_policy');
    expect(err.message).toMatch(pattern);
  });

  it('refuses to start the server on a bad policy: exit 2 and one line', async () => {
    const dir = policyDir((t) => t.replace('from: "08:00"', 'from: "8am"'));
    const r = await runCli('server', ['--port', '0', '--data', tempDir(), '--policies', dir, '--enroll-secret', 'x'.repeat(20)]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`clinic.yaml:${FROM_LINE}: consultHours[0].from`);
  });

  it('rejects bad command-line options with exit 2 naming the option', async () => {
    const bad = await runCli('server', ['--port', 'eighty']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--port.*expected a number/);
    const unknown = await runCli('agent', ['run', '--sever', 'x']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/--sever/);
  });
});

describe('hot reload', () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('keeps the last good policy on a bad edit, reports it in /healthz, and pushes a good edit to agents', async () => {
    const dir = tempDir('cg-pol-');
    mkdirSync(dir, { recursive: true });
    copyFileSync(join(packageRoot(), 'policies', 'demo', 'default.yaml'), join(dir, 'demo.yaml'));
    server = await startTestServer({ policiesDir: dir });
    const c = await connectRaw(server.wsUrl);
    c.send(helloFrame({ enrollSecret: 'test-enrolment-secret-0123456789' }));
    const welcome = await c.next('welcome');

    const good = readFileSync(join(dir, 'demo.yaml'), 'utf8');
    writeFileSync(join(dir, 'demo.yaml'), good.replace('timezone: UTC', 'timezone: Nowhere/Land'));
    await vi.waitFor(async () => {
      const { body } = await server!.fetchJson('/healthz', null);
      expect(body.ok).toBe(true);
      expect(body.policyError).toMatch(/demo\.yaml:\d+: timezone/);
    }, { timeout: 5000 });

    writeFileSync(join(dir, 'demo.yaml'), good.replace('pollSeconds: 2', 'pollSeconds: 3'));
    const pushed = await c.next('policy');
    expect(pushed.policy.agent.pollSeconds).toBe(3);
    expect(pushed.policy.version).not.toBe(welcome.policy.version);
    const { body } = await server.fetchJson('/healthz', null);
    expect(body.policyError).toBeUndefined();
    c.close();
  });

  const logLines: string[] = [];
  async function demoServer() {
    const dir = tempDir('cg-pol-');
    copyFileSync(join(packageRoot(), 'policies', 'demo', 'default.yaml'), join(dir, 'demo.yaml'));
    logLines.length = 0;
    server = await startTestServer({ policiesDir: dir, log: pino({ level: 'info' }, { write: (l: string) => void logLines.push(l) }) });
    const c = await connectRaw(server.wsUrl);
    c.send(helloFrame({ enrollSecret: 'test-enrolment-secret-0123456789' }));
    const welcome = await c.next('welcome');
    return { dir, c, welcome, good: readFileSync(join(dir, 'demo.yaml'), 'utf8') };
  }
  const health = async () => Health.parse((await server!.fetchJson('/healthz', null)).body);
  const metric = async (series: string) => {
    const line = (await (await fetch(`${server!.url}/metrics`)).text()).split('\n').find((l) => l.startsWith(`${series} `));
    return line === undefined ? undefined : Number(line.slice(series.length + 1));
  };

  it('reports a deleted policies folder as a failing watch, keeps the last policy, and re-watches the folder when it is back', async () => {
    const { dir, c, welcome, good } = await demoServer();
    expect((await health()).policy.watch.state).toBe('ok');
    rmSync(dir, { recursive: true });
    await vi.waitFor(async () => {
      const h = await health();
      expect(h).toMatchObject({ ok: true, status: 'degraded', policy: { watch: { state: 'failing', lastError: 'ENOENT' } } });
      expect(h.policy.policies[0]!.version).toBe(welcome.policy.version); // last good policy in force
    }, { timeout: 5000 });
    expect(await metric('consultguard_policy_watch_up')).toBe(0);
    // Re-arm tries (1 s, 2 s ...) count as failures; the log says it once per streak.
    await vi.waitFor(async () => expect((await health()).policy.watch.failures).toBeGreaterThanOrEqual(2), { timeout: 10_000 });
    expect(await metric('consultguard_policy_watch_failures_total{target="policies"}')).toBeGreaterThanOrEqual(2);
    expect(logLines.filter((l) => /policy folder watch .* failing/.test(l))).toHaveLength(1);

    mkdirSync(dir);
    writeFileSync(join(dir, 'demo.yaml'), good.replace('pollSeconds: 2', 'pollSeconds: 3'));
    const pushed = await c.next('policy');
    expect(pushed.policy.agent.pollSeconds).toBe(3);
    await vi.waitFor(async () => expect(await health()).toMatchObject({ status: 'ok', policy: { error: null, watch: { state: 'ok', streaks: 1 } } }), { timeout: 10_000 });
    // The new folder is watched: a later edit arrives too.
    writeFileSync(join(dir, 'demo.yaml'), good.replace('pollSeconds: 2', 'pollSeconds: 4'));
    expect((await c.next('policy')).policy.agent.pollSeconds).toBe(4);
    expect(await metric('consultguard_policy_watch_up')).toBe(1);
    c.close();
  });

  it('follows a policies folder swapped for a new one (config management replacing it by rename)', async () => {
    const { dir, c, good } = await demoServer();
    const staged = `${dir}.new`;
    mkdirSync(staged);
    writeFileSync(join(staged, 'demo.yaml'), good.replace('pollSeconds: 2', 'pollSeconds: 5'));
    renameSync(dir, `${dir}.old`);
    renameSync(staged, dir);
    expect((await c.next('policy')).policy.agent.pollSeconds).toBe(5);
    // Re-watched after the first re-arm delay (1 s).
    await vi.waitFor(async () => expect((await health()).policy.watch).toMatchObject({ state: 'ok', streaks: 1 }), { timeout: 10_000 });
    writeFileSync(join(dir, 'demo.yaml'), good.replace('pollSeconds: 2', 'pollSeconds: 6'));
    expect((await c.next('policy')).policy.agent.pollSeconds).toBe(6);
    c.close();
  });
});
