/** Admin routes: enrolment secrets per site, API tokens. Secrets and tokens are shown once, at creation. */
import { z } from 'zod';
import { AppError } from '../../shared/errors.js';
import { firstIssue } from '../../shared/zod-errors.js';
import type { Store } from '../store/index.js';
import { sendJson } from './http.js';
import type { Route } from './router.js';

function parse<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const r = schema.safeParse(body);
  if (!r.success) throw new AppError('bad_request', `body ${firstIssue(r.error).line}`);
  return r.data;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function adminRoutes(store: Store): Route[] {
  return [
    {
      method: 'GET', path: '/api/enroll-secrets', roles: ['admin'],
      handle: ({ res }) => sendJson(res, 200, { items: store.secrets.list().map((s) => ({ id: s.id, site: s.site, createdAt: iso(s.created_at), revokedAt: iso(s.revoked_at) })) }),
    },
    {
      method: 'POST', path: '/api/enroll-secrets', roles: ['admin'],
      handle: async ({ res, body }) => {
        const { site } = parse(z.object({ site: z.string().min(1).max(128).nullable().default(null) }), await body());
        sendJson(res, 201, store.secrets.create(site));
      },
    },
    {
      method: 'DELETE', path: '/api/enroll-secrets/:id', roles: ['admin'],
      handle: ({ res, params }) => {
        if (!store.secrets.revoke(params.id!)) throw new AppError('not_found', `no live enrolment secret ${params.id}`);
        sendJson(res, 200, { id: params.id, revoked: true });
      },
    },
    {
      method: 'POST', path: '/api/tokens', roles: ['admin'],
      handle: async ({ res, body }) => {
        const { role, name } = parse(z.object({ role: z.enum(['lead', 'admin']), name: z.string().max(128).nullable().default(null) }), await body());
        sendJson(res, 201, store.apiTokens.create(role, name));
      },
    },
  ];
}
