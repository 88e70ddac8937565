/**
 * `GET /api/openapi.json`: an OpenAPI 3.1 description of the HTTP API, generated from the
 * zod schemas in shared/api-types.ts that also type the server's replies and the
 * dashboard (zod 4's `z.toJSONSchema`, JSON Schema 2020-12, which OpenAPI 3.1 uses as is).
 * It needs no credentials: it says no more than README "HTTP API" does, and API tools
 * (code generators, Swagger UI) can read it before they hold a token.
 *
 * Each route the router serves is listed; one missing from DESCRIBED below is still listed,
 * marked `x-undocumented`, and test/integration/openapi.test.ts fails until it is described.
 */
import { z } from 'zod';
import * as T from '../../shared/api-types.js';
import { sendJson } from './http.js';
import { Password, UserName } from './admin.js';
import type { Route } from './router.js';
import { SESSION_COOKIE } from './session.js';
import { FeedQuery } from './violations.js';

type Json = Record<string, unknown>;

interface Described {
  summary: string;
  /** The reply's schema (JSON), or a media type for non-JSON replies. */
  reply: z.ZodType | { media: string };
  status?: number;
  body?: z.ZodType;
  query?: string[];
}

const RoleBody = z.enum(['lead', 'admin']);
const Place = z.string().min(1).max(128).nullable();

/** The schemas named in components.schemas (a $ref per reply), by their export name. */
const NAMED: Record<string, z.ZodType> = Object.fromEntries(
  (Object.entries(T) as Array<[string, unknown]>).filter((e): e is [string, z.ZodType] => e[1] instanceof z.ZodType),
);
const nameOf = new Map<z.ZodType, string>(Object.entries(NAMED).map(([k, v]) => [v, k]));

const feedQuery = Object.keys(FeedQuery.shape);
const audit = ['actor', 'action', 'since', 'until'];

export const DESCRIBED: Record<string, Described> = {
  'GET /healthz': { summary: 'Health of the store, policies, forwarders and other parts (503 when the store is unusable)', reply: T.Health },
  'GET /metrics': { summary: 'Prometheus metrics (text exposition format)', reply: { media: 'text/plain' } },
  'GET /api/openapi.json': { summary: 'This document', reply: { media: 'application/json' } },
  'POST /api/session': { summary: 'Dashboard login: sets the session cookie', reply: T.SessionReply, body: z.object({ username: z.string(), password: z.string() }) },
  'GET /api/session': { summary: 'The current dashboard user and CSRF token', reply: T.SessionReply },
  'DELETE /api/session': { summary: 'Logout', reply: { media: 'none' }, status: 204 },
  'GET /api/session/options': { summary: 'The ways to sign in: passwords, and the single sign-on provider if one is set up', reply: T.SessionOptions },
  'GET /auth/oidc/login': { summary: 'Single sign-on, for a browser: 302 to the OpenID provider with state, nonce and PKCE; sets a short-lived state cookie (`next` = where to land)', reply: { media: 'none' }, status: 302, query: ['next'] },
  'GET /auth/oidc/callback': { summary: "Single sign-on, the provider's redirect back (the redirect URI to register): checks state and ID token, maps groups to a role, sets the session cookie; an HTML page either way", reply: { media: 'text/html' }, query: ['code', 'state', 'iss', 'error'] },
  'GET /api/violations': { summary: 'Violations, newest first, filtered; pass `next` back as `cursor`', reply: T.ViolationPage, query: feedQuery },
  'GET /api/violations.csv': { summary: 'The same filters as CSV', reply: { media: 'text/csv' }, query: feedQuery },
  'GET /api/violations/stream': { summary: 'Server-Sent Events: `event: violation` per new or changed violation', reply: { media: 'text/event-stream' } },
  'GET /api/violations/:agentId/:id': { summary: 'One violation with its timeline', reply: T.ViolationDetail },
  'GET /api/violations/:id': { summary: 'Old single-id address: 308 to /api/violations/AGENT_ID/ID when one agent has that id', reply: { media: 'none' }, status: 308 },
  'POST /api/violations/:agentId/:id/ack': { summary: 'Acknowledge or resolve with a note', reply: T.AckReply, body: z.object({ status: T.AckStatus, note: z.string().max(2000).optional() }) },
  'GET /api/trends': { summary: 'Per-day counts, top sites and workstations, nudge outcomes', reply: T.Trends, query: ['since', 'until'] },
  'GET /api/filters': { summary: 'Values for the feed filters', reply: T.FilterValues },
  'GET /api/apps': { summary: "The catalog's apps with their display names", reply: T.AppNames },
  'GET /api/agents': { summary: 'Every enrolled agent with online state and versions', reply: T.AgentList },
  'POST /api/agents/:id/revoke': { summary: "Revoke an agent's token and disconnect it (admin)", reply: T.AgentRevoked },
  'POST /api/agents/:id/forget': { summary: 'Forget an agent so its id may enrol again (admin)', reply: T.AgentForgotten },
  'POST /api/agents/:id/assign': { summary: 'Move an agent to a site (pinned) and group; a connected agent gets its new policy at once (admin)', reply: T.AgentAssigned, body: z.object({ site: Place.optional(), group: Place.optional() }) },
  'GET /api/policies': { summary: 'Policies in force, the pending bad edit with file and line, and which agents run which version', reply: T.PolicyOverview },
  'GET /api/enroll-secrets': { summary: 'Per-site enrolment secrets, never the secret (admin)', reply: T.EnrollSecretList },
  'POST /api/enroll-secrets': { summary: 'Create a secret, shown this once (admin)', reply: T.EnrollSecretCreated, status: 201, body: z.object({ site: Place.optional() }) },
  'DELETE /api/enroll-secrets/:id': { summary: 'Revoke a secret (admin)', reply: T.Revoked },
  'GET /api/tokens': { summary: 'API tokens, never the token (admin)', reply: T.ApiTokenList },
  'POST /api/tokens': { summary: 'Create a token, shown this once (admin)', reply: T.ApiTokenCreated, status: 201, body: z.object({ role: RoleBody, name: z.string().max(128).nullable().optional() }) },
  'DELETE /api/tokens/:id': { summary: 'Revoke a token: 401 from its next request (admin)', reply: T.Revoked },
  'GET /api/users': { summary: 'Dashboard users (admin)', reply: T.UserList },
  'POST /api/users': { summary: 'Add (201) or replace (200) a user (admin)', reply: T.UserSaved, status: 201, body: z.object({ name: UserName, role: RoleBody, password: Password }) },
  'POST /api/users/:name/reset': { summary: "New password; the user's sessions end (admin)", reply: T.UserReset, body: z.object({ password: Password }) },
  'POST /api/users/:name/disable': { summary: "Disable a user; the user's sessions end (admin)", reply: T.UserDisabled },
  'GET /api/audit': { summary: 'The audit log, newest first (admin)', reply: T.AuditList, query: ['limit', 'before'] },
  'POST /api/violations/:agentId/:id/reveal': { summary: "A clinician's name, to the caller only, with a reason (audited, on the timeline)", reply: T.RevealReply, body: T.RevealBody },
  'POST /api/violations/:id/reveal': { summary: 'The same by the violation id alone (CONTRACTS section 4): 400 when several agents have that id', reply: T.RevealReply, body: T.RevealBody },
  'POST /api/violations/:agentId/:id/exception': { summary: "A lead's decision on the clinician's exception claim (audited)", reply: T.ExceptionDecisionReply, body: T.ExceptionDecisionBody },
  'GET /api/subjects/:name/export': { summary: 'Data-subject request: everything held about one clinician, by the user name agents report (admin, audited)', reply: T.SubjectExport },
  'POST /api/subjects/:name/erase': { summary: 'Data-subject request: erase or anonymise one clinician (admin, audited by pseudonym)', reply: T.SubjectErased, body: z.object({ reference: z.string().max(200).optional() }) },
  'GET /api/audit.csv': { summary: 'The audit log as CSV, filtered (admin)', reply: { media: 'text/csv' }, query: audit },
  'GET /api/alerts': { summary: 'Alert rules, never a webhook secret; Slack and Teams URLs masked', reply: T.AlertRuleList },
  'POST /api/alerts': { summary: "Add an alert rule; each webhook's signing secret is shown this once (admin)", reply: T.AlertRuleCreated, status: 201, body: T.NewRule },
  'DELETE /api/alerts/:id': { summary: 'Remove an alert rule (admin)', reply: T.Removed },
  'POST /api/alerts/:id/test': { summary: "Send a test message on each of a rule's channels now and say how each went (admin)", reply: T.AlertTestReply },
  'GET /api/reports': { summary: 'Scheduled email reports with their last run', reply: T.ReportScheduleList },
  'POST /api/reports': { summary: 'Schedule a weekly or monthly report of one site by email (admin)', reply: T.ReportScheduleView, status: 201, body: T.NewReport },
  'DELETE /api/reports/:id': { summary: 'Remove a report schedule (admin)', reply: T.Removed },
};

/** Request bodies named in components.schemas: described as what the server accepts (io "input", defaults optional). */
const BODIES = new Set<z.ZodType>(Object.values(DESCRIBED).flatMap((d) => (d.body && nameOf.has(d.body) ? [d.body] : [])));

/** Whether a route belongs in the API description (the dashboard's pages and assets do not). */
export const isApiRoute = (r: Route): boolean => r.path.startsWith('/api/') || r.path.startsWith('/auth/') || r.path === '/healthz' || r.path === '/metrics';

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Json {
  const name = (io === 'input') === BODIES.has(schema) ? nameOf.get(schema) : undefined;
  if (name) return { $ref: `#/components/schemas/${name}` };
  return z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Json;
}

function strip(s: Json): Json {
  const { $schema: _drop, ...rest } = s;
  return rest;
}

function operation(route: Route, d: Described | undefined): Json {
  const params = [...route.path.matchAll(/:([a-zA-Z]+)/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
  for (const q of d?.query ?? []) params.push({ name: q, in: 'query', required: false, schema: { type: 'string' } } as never);
  const ok = String(d?.status ?? 200);
  const reply = d?.reply;
  const content = !reply
    ? { 'application/json': { schema: {} } }
    : reply instanceof z.ZodType
      ? { 'application/json': { schema: jsonSchema(reply, 'output') } }
      : reply.media === 'none' ? undefined : { [reply.media]: { schema: { type: 'string' } } };
  // The browser's sign-in routes answer errors as pages (server/oidc/page.ts), the API as JSON.
  const error = route.path.startsWith('/auth/')
    ? { description: 'Error page naming the error code', content: { 'text/html': { schema: { type: 'string' } } } }
    : { description: 'Error', content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorReply' } } } };
  const responses: Json = { [ok]: { description: d?.summary ?? 'Reply', ...(content ? { content } : {}) }, 400: error, 404: error };
  if (route.roles) Object.assign(responses, { 401: error, 403: error });
  if (route.path.startsWith('/auth/')) Object.assign(responses, { 403: error, 502: error });
  if (route.path === '/healthz') responses[503] = { description: 'The store is unusable', content: { 'application/json': { schema: { $ref: '#/components/schemas/Health' } } } };
  return {
    summary: d?.summary ?? route.path,
    operationId: `${route.method.toLowerCase()}${route.path.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
    ...(params.length ? { parameters: params } : {}),
    ...(d?.body ? { requestBody: { required: true, content: { 'application/json': { schema: strip(jsonSchema(d.body, 'input')) } } } } : {}),
    responses,
    security: route.roles ? [{ bearer: [] }, { session: [] }] : [],
    ...(route.roles ? { 'x-roles': route.roles } : {}),
    ...(d ? {} : { 'x-undocumented': true }),
  };
}

export function openApiDocument(routes: Route[]): Json {
  const paths: Record<string, Json> = {};
  for (const r of routes.filter(isApiRoute)) {
    const p = r.path.replace(/:([a-zA-Z]+)/g, '{$1}');
    (paths[p] ??= {})[r.method.toLowerCase()] = operation(r, DESCRIBED[`${r.method} ${r.path}`]);
  }
  const schemas = Object.fromEntries(Object.entries(NAMED).map(([k, v]) => [k, strip(z.toJSONSchema(v, { io: BODIES.has(v) ? 'input' : 'output', unrepresentable: 'any' }) as Json)]));
  return {
    openapi: '3.1.0',
    info: { title: 'ConsultGuard policy server API', version: '1', description: 'README "HTTP API". Errors are { error: { code, message } }; codes in README "Error codes".' },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    paths,
    components: {
      schemas,
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'An API token from `consultguard-server token create` or the Tokens screen' },
        session: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE, description: 'Dashboard session; changes also need the x-csrf-token header' },
      },
    },
  };
}

export function openApiRoute(routes: Route[]): Route {
  let doc: Json | null = null;
  return {
    method: 'GET', path: '/api/openapi.json', roles: null,
    // Built once, on first request: the route list is fixed when the API is created.
    handle: ({ res }) => sendJson(res, 200, (doc ??= openApiDocument(routes))),
  };
}
