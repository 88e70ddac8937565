/**
 * Admin routes: enrolment secrets per site, API tokens, dashboard users. Secrets and
 * tokens are shown once, at creation. Every change is audited (actor, action, target);
 * ending a credential also ends the live streams opened with it.
 */
import { z } from 'zod';
import { AppError } from '../../shared/errors.js';
import { firstIssue } from '../../shared/zod-errors.js';
import type { Store } from '../store/index.js';
import { sendJson } from './http.js';
import type { LiveFeed } from './live.js';
import { actorOf, type Principal, type Route } from './router.js';

function parse<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const r = schema.safeParse(body);
  if (!r.success) throw new AppError('bad_request', `body ${firstIssue(r.error).line}`);
  return r.data;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** The same rules as the CLI's `user add` (admin-cli.ts). */
export const UserName = z.string().regex(/^[A-Za-z0-9._@-]{1,64}$/, 'expected letters, digits, . _ @ - (at most 64)');
export const Password = z.string().min(12, 'at least 12 characters, please').max(1024);
const Role = z.enum(['lead', 'admin']);

export function adminRoutes(store: Store, live: LiveFeed): Route[] {
  const audit = (p: Principal | null, action: string, detail: Record<string, unknown>) => store.audit.record(actorOf(p), action, detail);
  return [
    {
      method: 'GET', path: '/api/enroll-secrets', roles: ['admin'],
      handle: ({ res }) => sendJson(res, 200, { items: store.secrets.list().map((s) => ({ id: s.id, site: s.site, createdAt: iso(s.created_at), revokedAt: iso(s.revoked_at) })) }),
    },
    {
      method: 'POST', path: '/api/enroll-secrets', roles: ['admin'],
      handle: async ({ res, body, principal }) => {
        const { site } = parse(z.object({ site: z.string().min(1).max(128).nullable().default(null) }), await body());
        const created = store.secrets.create(site);
        // Which secret was made, for which site: never the secret itself.
        audit(principal, 'secret-create', { id: created.id, site });
        sendJson(res, 201, created);
      },
    },
    {
      method: 'DELETE', path: '/api/enroll-secrets/:id', roles: ['admin'],
      handle: ({ res, params, principal }) => {
        if (!store.secrets.revoke(params.id!)) throw new AppError('not_found', `no live enrolment secret ${params.id}`);
        audit(principal, 'secret-revoke', { id: params.id });
        sendJson(res, 200, { id: params.id, revoked: true });
      },
    },
    {
      method: 'GET', path: '/api/tokens', roles: ['admin'],
      handle: ({ res }) => sendJson(res, 200, {
        items: store.apiTokens.list().map((t) => ({ id: t.id, name: t.name, role: t.role, createdAt: iso(t.created_at), revokedAt: iso(t.revoked_at) })),
      }),
    },
    {
      method: 'POST', path: '/api/tokens', roles: ['admin'],
      handle: async ({ res, body, principal }) => {
        const { role, name } = parse(z.object({ role: Role, name: z.string().max(128).nullable().default(null) }), await body());
        const created = store.apiTokens.create(role, name);
        audit(principal, 'token-create', { id: created.id, role, name });
        sendJson(res, 201, created);
      },
    },
    {
      method: 'DELETE', path: '/api/tokens/:id', roles: ['admin'],
      handle: ({ res, params, principal }) => {
        if (!store.apiTokens.revoke(params.id!)) throw new AppError('not_found', `no live API token ${params.id}; see GET /api/tokens`);
        audit(principal, 'token-revoke', { id: params.id });
        live.revalidate();
        sendJson(res, 200, { id: params.id, revoked: true });
      },
    },
    {
      method: 'GET', path: '/api/users', roles: ['admin'],
      handle: ({ res }) => sendJson(res, 200, {
        items: store.users.list().map((u) => ({ name: u.name, role: u.role, createdAt: iso(u.created_at), disabledAt: iso(u.disabled_at) })),
      }),
    },
    {
      method: 'POST', path: '/api/users', roles: ['admin'],
      handle: async ({ res, body, principal }) => {
        const { name, role, password } = parse(z.object({ name: UserName, role: Role, password: Password }), await body());
        const existed = store.users.exists(name);
        await store.users.addAsync(name, role, password);
        audit(principal, existed ? 'user-reset' : 'user-add', { name, role });
        live.revalidate();
        sendJson(res, existed ? 200 : 201, { name, role });
      },
    },
    {
      method: 'POST', path: '/api/users/:name/reset', roles: ['admin'],
      handle: async ({ res, body, params, principal }) => {
        const { password } = parse(z.object({ password: Password }), await body());
        if (!(await store.users.resetAsync(params.name!, password))) throw new AppError('not_found', `no user ${params.name}; see GET /api/users`);
        audit(principal, 'user-reset', { name: params.name });
        live.revalidate();
        sendJson(res, 200, { name: params.name, reset: true });
      },
    },
    {
      method: 'POST', path: '/api/users/:name/disable', roles: ['admin'],
      handle: ({ res, params, principal }) => {
        if (!store.users.disable(params.name!)) throw new AppError('not_found', `no enabled user ${params.name}; see GET /api/users`);
        audit(principal, 'user-disable', { name: params.name });
        live.revalidate();
        sendJson(res, 200, { name: params.name, disabled: true });
      },
    },
  ];
}
