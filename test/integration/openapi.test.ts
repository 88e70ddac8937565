/**
 * GET /api/openapi.json: the document validates against the OpenAPI 3.1 schema
 * (@seriousme/openapi-schema-validator, the official JSON Schemas), every route the server
 * serves is in it with a schema for its reply, and every described JSON route's real reply,
 * from a real server holding an agent's violations, users, tokens and secrets, fits the
 * document's own schema (checked with Ajv against the generated JSON Schema, not zod: it is
 * the published document that clients trust). Alert rules and report schedules are created
 * through the API, with webhooks to loopback receivers this test starts: one that takes the
 * test message and one that answers 503, so a rule's test shows both outcomes.
 */
import { randomUUID } from 'node:crypto';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DESCRIBED } from '../../server/api/openapi.js';
import { createStore } from '../../server/store/index.js';
import { startTestServer, tempDir, TEST_SECRET, type TestServer } from '../support/server.js';
import { connectRaw, eventFrame, helloFrame, makeEvent } from '../support/ws-client.js';
import { startReceiver, type HttpReceiver } from './alerts-receivers.js';

type Json = Record<string, any>;
let server: TestServer;
let admin: string;
let agentId: string;
let doc: Json;
let hook: HttpReceiver;
let broken: HttpReceiver;
const violationId = randomUUID();
const exercised = new Set<string>();
const ajv = new Ajv2020({ strict: false, allErrors: true });
(addFormats as unknown as (a: Ajv2020) => void)(ajv);

beforeAll(async () => {
  const dataDir = tempDir();
  const store = createStore(dataDir);
  admin = (await store.apiTokens.create('admin', 'openapi-test')).token;
  await store.users.add('it.lead', 'lead', 'correct horse battery');
  await store.close();
  server = await startTestServer({ dataDir });
  hook = await startReceiver();
  broken = await startReceiver(0, 503);
  const c = await connectRaw(server.wsUrl);
  const hello = helloFrame({ enrollSecret: TEST_SECRET, site: 'north', group: 'gp' });
  agentId = hello.agentId as string;
  c.send(hello);
  await c.next('welcome');
  c.send(eventFrame(1, [
    makeEvent({ violationId, at: new Date(Date.now() - 60_000).toISOString() }),
    makeEvent({ violationId, kind: 'updated', state: 'in-call', via: 'process+network' }),
    makeEvent({ app: 'whatsapp', user: undefined }),
  ]));
  await c.next('ack');
  // The clinician claimed an exception for the Zoom violation (a nudge outcome, protocol v1).
  c.send({ type: 'nudges', batch: 2, nudges: [{ id: randomUUID(), violationId, app: 'zoom', user: 'CLINIC\\dr.lee', outcome: 'exception', reason: 'patient-cannot-use', detail: 'The patient cannot use the approved app', at: new Date().toISOString(), until: new Date(Date.now() + 30 * 60_000).toISOString() }] });
  await c.next('ack');
  c.send({ type: 'status', at: new Date().toISOString(), monitoring: true, policyVersion: null, health: { polls: 3 } });
  c.close();
  const res = await fetch(`${server.url}/api/openapi.json`);
  expect(res.status).toBe(200);
  doc = (await res.json()) as Json;
});
afterAll(async () => {
  await server.close();
  await hook?.close();
  await broken?.close();
});

function replySchema(method: string, path: string, status: number): Json {
  const op = doc.paths[path.replace(/:([a-zA-Z]+)/g, '{$1}')]?.[method.toLowerCase()];
  expect(op, `${method} ${path} is in the document`).toBeDefined();
  const r = op.responses[String(status)];
  expect(r, `${method} ${path} documents status ${status}`).toBeDefined();
  const schema = r.content['application/json'].schema as Json;
  const ref = typeof schema.$ref === 'string' ? (schema.$ref as string).replace('#/components/schemas/', '') : null;
  return ref ? doc.components.schemas[ref] : schema;
}

/** Calls a route and checks the reply against the document's schema for that route and status. */
async function call(method: string, route: string, path: string, opts: { token?: string | null; body?: unknown; status?: number; cookie?: string } = {}): Promise<any> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const token = opts.token === undefined ? admin : opts.token;
  if (token) headers.authorization = `Bearer ${token}`;
  if (opts.cookie) headers.cookie = opts.cookie;
  const res = await fetch(`${server.url}${path}`, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body), redirect: 'manual' });
  const status = opts.status ?? 200;
  const json: unknown = await res.json();
  expect(res.status, `${method} ${path}: ${JSON.stringify(json).slice(0, 300)}`).toBe(status);
  const validate = ajv.compile(replySchema(method, route, status));
  expect(validate(json), `${method} ${path} fits the document: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(json).slice(0, 400)}`).toBe(true);
  if (status < 400) exercised.add(`${method} ${route}`);
  return json;
}

describe('OpenAPI document', () => {
  it('validates as OpenAPI 3.1 and needs no credentials', async () => {
    const v = new Validator();
    const result = await v.validate(structuredClone(doc));
    expect(result.errors ?? [], JSON.stringify(result.errors ?? []).slice(0, 1000)).toEqual([]);
    expect(result.valid).toBe(true);
    expect(v.version).toBe('3.1');
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
  });

  it('lists every API route with a reply schema, and none undocumented', () => {
    const ops: string[] = [];
    for (const [path, item] of Object.entries(doc.paths as Json)) {
      for (const [method, op] of Object.entries(item as Json)) {
        ops.push(`${method.toUpperCase()} ${path}`);
        expect(op['x-undocumented'], `${method.toUpperCase()} ${path} has an entry in server/api/openapi.ts DESCRIBED`).toBeUndefined();
        const ok = Object.entries(op.responses as Json).filter(([s]) => Number(s) < 400);
        expect(ok.length, `${method} ${path} has a success reply`).toBe(1);
        for (const [, r] of Object.entries(op.responses as Json)) {
          for (const media of Object.values((r as Json).content ?? {})) expect((media as Json).schema, `${method} ${path}`).toBeDefined();
        }
        if (op['x-roles']) expect(op.responses['401']).toBeDefined();
      }
    }
    // Each route the server answers is described (the dashboard's pages and assets aside).
    expect(ops.sort()).toEqual(Object.keys(DESCRIBED).map((k) => k.replace(/:([a-zA-Z]+)/g, '{$1}')).sort());
    expect(doc.paths['/api/violations'].get.parameters.map((p: Json) => p.name)).toEqual(expect.arrayContaining(['app', 'since', 'cursor']));
  });

  it('every JSON route\'s real replies fit its schema', async () => {
    await call('GET', '/healthz', '/healthz', { token: null });
    const page = await call('GET', '/api/violations', '/api/violations');
    expect(page.items.length).toBe(2);
    await call('GET', '/api/violations/:agentId/:id', `/api/violations/${agentId}/${violationId}`);
    await call('POST', '/api/violations/:agentId/:id/ack', `/api/violations/${agentId}/${violationId}/ack`, { body: { status: 'acknowledged', note: 'seen' } });
    const revealed = await call('POST', '/api/violations/:agentId/:id/reveal', `/api/violations/${agentId}/${violationId}/reveal`, { body: { reason: 'checking the described reveal reply' } });
    expect(revealed.user).toBe('CLINIC\\dr.lee');
    await call('POST', '/api/violations/:id/reveal', `/api/violations/${violationId}/reveal`, { body: { reason: 'the contract path, by violation id alone' } });
    await call('POST', '/api/violations/:agentId/:id/reveal', `/api/violations/${agentId}/${violationId}/reveal`, { body: {}, status: 400 });
    const decided = await call('POST', '/api/violations/:agentId/:id/exception', `/api/violations/${agentId}/${violationId}/exception`, { body: { decision: 'accept', note: 'checked' } });
    expect(decided.exception).toMatchObject({ reason: 'patient-cannot-use', decision: 'accepted' });
    await call('GET', '/api/trends', '/api/trends');
    await call('GET', '/api/filters', '/api/filters');
    const apps = await call('GET', '/api/apps', '/api/apps');
    expect(apps.items).toEqual(expect.arrayContaining([{ id: 'whatsapp', name: 'WhatsApp', vendor: expect.anything() }]));
    await call('GET', '/api/agents', '/api/agents');
    const policies = await call('GET', '/api/policies', '/api/policies');
    expect(policies.agents).toEqual([expect.objectContaining({ agentId, site: 'north', runningVersion: null, current: false })]);
    await call('GET', '/api/audit', '/api/audit');

    const rule = await call('POST', '/api/alerts', '/api/alerts', {
      status: 201,
      body: { on: 'in-call', site: 'north', webhook: [{ url: `${hook.url}/consultguard?key=abc` }, { url: `${broken.url}/down`, secret: 'sixteen-chars-or-more' }], slack: [`${hook.url}/services/T000/B000/XXXXsecret`] },
    });
    expect(rule).toMatchObject({ on: 'in-call', threshold: null, site: 'north', secrets: [{ index: 0, secret: expect.any(String) }, { index: 1, secret: 'sixteen-chars-or-more' }] });
    expect(rule.channels).toEqual([
      { index: 0, kind: 'webhook', target: `${hook.url}/consultguard`, signed: true },
      { index: 1, kind: 'webhook', target: `${broken.url}/down`, signed: true },
      { index: 2, kind: 'slack', target: `${hook.url}/…cret` },
    ]);
    const rules = await call('GET', '/api/alerts', '/api/alerts');
    expect(rules.items).toEqual([expect.not.objectContaining({ secrets: expect.anything() })]);
    const tested = await call('POST', '/api/alerts/:id/test', `/api/alerts/${rule.id}/test`);
    expect(tested).toMatchObject({ id: rule.id, ok: false, channels: [{ index: 0, ok: true }, { index: 1, ok: false, error: expect.any(String) }, { index: 2, kind: 'slack', ok: true }] });
    expect(hook.calls.map((c) => c.path)).toEqual(['/consultguard?key=abc', '/services/T000/B000/XXXXsecret']);
    expect(broken.calls).toHaveLength(1);
    await call('DELETE', '/api/alerts/:id', `/api/alerts/${rule.id}`);
    await call('POST', '/api/alerts/:id/test', `/api/alerts/${rule.id}/test`, { status: 404 });
    await call('POST', '/api/alerts', '/api/alerts', { body: { on: 'sometimes', email: ['it@clinic.example'] }, status: 400 });

    const report = await call('POST', '/api/reports', '/api/reports', { status: 201, body: { every: 'weekly', site: 'north', email: ['lead@clinic.example'] } });
    expect(report).toMatchObject({ every: 'weekly', site: 'north', email: ['lead@clinic.example'], lastRun: null });
    const reportList = await call('GET', '/api/reports', '/api/reports');
    expect(reportList.items).toEqual([report]);
    await call('DELETE', '/api/reports/:id', `/api/reports/${report.id}`);
    await call('DELETE', '/api/reports/:id', `/api/reports/${report.id}`, { status: 404 });

    const secret = await call('POST', '/api/enroll-secrets', '/api/enroll-secrets', { body: { site: 'south' }, status: 201 });
    expect(secret).toMatchObject({ site: 'south', secret: expect.any(String) });
    await call('GET', '/api/enroll-secrets', '/api/enroll-secrets');
    await call('DELETE', '/api/enroll-secrets/:id', `/api/enroll-secrets/${secret.id}`);
    const token = await call('POST', '/api/tokens', '/api/tokens', { body: { role: 'lead', name: 'siem' }, status: 201 });
    await call('GET', '/api/tokens', '/api/tokens');
    await call('DELETE', '/api/tokens/:id', `/api/tokens/${token.id}`);
    await call('POST', '/api/users', '/api/users', { body: { name: 'nurse.unit', role: 'lead', password: 'a long enough password' }, status: 201 });
    await call('GET', '/api/users', '/api/users');
    await call('POST', '/api/users/:name/reset', '/api/users/nurse.unit/reset', { body: { password: 'another long password' } });
    await call('POST', '/api/users/:name/disable', '/api/users/nurse.unit/disable');
    const moved = await call('POST', '/api/agents/:id/assign', `/api/agents/${agentId}/assign`, { body: { site: 'south', group: null } });
    expect(moved).toMatchObject({ agentId, site: 'south', group: null });
    await call('POST', '/api/agents/:id/revoke', `/api/agents/${agentId}/revoke`);
    await call('POST', '/api/agents/:id/forget', `/api/agents/${agentId}/forget`);

    const login = await fetch(`${server.url}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'it.lead', password: 'correct horse battery' }) });
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
    exercised.add('POST /api/session');
    expect(ajv.compile(replySchema('POST', '/api/session', 200))(await login.json())).toBe(true);
    await call('GET', '/api/session', '/api/session', { token: null, cookie });
    const ways = await call('GET', '/api/session/options', '/api/session/options', { token: null });
    expect(ways).toEqual({ password: true, sso: null });

    // Data-subject requests (admin); the erase last, as it changes what the rest would read.
    const subject = encodeURIComponent('CLINIC\\dr.lee');
    const exported = await call('GET', '/api/subjects/:name/export', `/api/subjects/${subject}/export`, { token: admin });
    expect(exported.violations.length).toBe(1);
    const erased = await call('POST', '/api/subjects/:name/erase', `/api/subjects/${subject}/erase`, { token: admin, body: { reference: 'DSR-1' } });
    expect(erased.erased.violations).toBe(1);

    // Errors fit the one error shape, as documented on each route.
    await call('GET', '/api/violations', '/api/violations?state=dancing', { status: 400 });
    await call('GET', '/api/agents', '/api/agents', { token: null, status: 401 });
    await call('GET', '/api/users', '/api/users', { token: server.apiToken, status: 403 });
    await call('POST', '/api/agents/:id/assign', '/api/agents/nobody/assign', { body: { site: 'x' }, status: 404 });

    // Every route described with a JSON reply was called above.
    const json = Object.entries(DESCRIBED).filter(([, d]) => !('media' in d.reply)).map(([k]) => k);
    expect([...exercised].sort()).toEqual(expect.arrayContaining(json));
    expect(json.filter((k) => !exercised.has(k))).toEqual([]);
  });
});
