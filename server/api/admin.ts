/**
 * Admin routes: enrolment secrets per site, API tokens, dashboard users. Secrets and
 * tokens are shown once, at creation. Every change is audited (actor, action, target);
 * ending a credential also ends the live streams opened with it.
 */
import { z } from 'zod';
import { agentVersion } from '../../agent/version.js';
import { AppError } from '../../shared/errors.js';
import { firstIssue } from '../../shared/zod-errors.js';
import type { Gateway } from '../gateway/index.js';
import { policyForAgent } from '../gateway/pinning.js';
import type { PolicyService } from '../policy/index.js';
import type { Store } from '../store/index.js';
import { csvLine, streamLines } from './csv.js';
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
      handle: async ({ res }) => sendJson(res, 200, {
        items: (await store.secrets.list()).map((s) => ({ id: s.id, site: s.site, createdAt: iso(s.created_at), revokedAt: iso(s.revoked_at) })),
        installerVersion: agentVersion(),
      }),
    },
    {
      method: 'POST', path: '/api/enroll-secrets', roles: ['admin'],
      handle: async ({ res, body, principal }) => {
        const { site } = parse(z.object({ site: z.string().min(1).max(128).nullable().default(null) }), await body());
        const created = await store.secrets.create(site);
        // Which secret was made, for which site: never the secret itself.
        await audit(principal, 'secret-create', { id: created.id, site });
        sendJson(res, 201, { id: created.id, site, secret: created.secret, installerVersion: agentVersion() });
      },
    },
    {
      method: 'DELETE', path: '/api/enroll-secrets/:id', roles: ['admin'],
      handle: async ({ res, params, principal }) => {
        if (!(await store.secrets.revoke(params.id!))) throw new AppError('not_found', `no live enrolment secret ${params.id}`);
        await audit(principal, 'secret-revoke', { id: params.id });
        sendJson(res, 200, { id: params.id, revoked: true });
      },
    },
    {
      method: 'GET', path: '/api/tokens', roles: ['admin'],
      handle: async ({ res }) => sendJson(res, 200, {
        items: (await store.apiTokens.list()).map((t) => ({ id: t.id, name: t.name, role: t.role, createdAt: iso(t.created_at), revokedAt: iso(t.revoked_at) })),
      }),
    },
    {
      method: 'POST', path: '/api/tokens', roles: ['admin'],
      handle: async ({ res, body, principal }) => {
        const { role, name } = parse(z.object({ role: Role, name: z.string().max(128).nullable().default(null) }), await body());
        const created = await store.apiTokens.create(role, name);
        await audit(principal, 'token-create', { id: created.id, role, name });
        sendJson(res, 201, created);
      },
    },
    {
      method: 'DELETE', path: '/api/tokens/:id', roles: ['admin'],
      handle: async ({ res, params, principal }) => {
        if (!(await store.apiTokens.revoke(params.id!))) throw new AppError('not_found', `no live API token ${params.id}; see GET /api/tokens`);
        await audit(principal, 'token-revoke', { id: params.id });
        await live.revalidate();
        await store.changes.notify('tokens', params.id);
        sendJson(res, 200, { id: params.id, revoked: true });
      },
    },
    {
      method: 'GET', path: '/api/users', roles: ['admin'],
      handle: async ({ res }) => sendJson(res, 200, {
        items: (await store.users.list()).map((u) => ({ name: u.name, role: u.role, createdAt: iso(u.created_at), disabledAt: iso(u.disabled_at) })),
      }),
    },
    {
      method: 'POST', path: '/api/users', roles: ['admin'],
      handle: async ({ res, body, principal }) => {
        const { name, role, password } = parse(z.object({ name: UserName, role: Role, password: Password }), await body());
        const existed = await store.users.exists(name);
        await store.users.add(name, role, password);
        await audit(principal, existed ? 'user-reset' : 'user-add', { name, role });
        await live.revalidate();
        await store.changes.notify('users', name);
        sendJson(res, existed ? 200 : 201, { name, role });
      },
    },
    {
      method: 'POST', path: '/api/users/:name/reset', roles: ['admin'],
      handle: async ({ res, body, params, principal }) => {
        const { password } = parse(z.object({ password: Password }), await body());
        if (!(await store.users.reset(params.name!, password))) throw new AppError('not_found', `no user ${params.name}; see GET /api/users`);
        await audit(principal, 'user-reset', { name: params.name });
        await live.revalidate();
        await store.changes.notify('users', params.name);
        sendJson(res, 200, { name: params.name, reset: true });
      },
    },
    {
      method: 'POST', path: '/api/users/:name/disable', roles: ['admin'],
      handle: async ({ res, params, principal }) => {
        if (!(await store.users.disable(params.name!))) throw new AppError('not_found', `no enabled user ${params.name}; see GET /api/users`);
        await audit(principal, 'user-disable', { name: params.name });
        await live.revalidate();
        await store.changes.notify('users', params.name);
        sendJson(res, 200, { name: params.name, disabled: true });
      },
    },
  ];
}

const Place = z.string().trim().min(1).max(128)
  .refine((v) => ![...v].some((c) => c.charCodeAt(0) < 0x20), 'expected no control characters').nullable().default(null);

/**
 * Moving an agent (admin): the store records the site (pinned: the agent's own --site no
 * longer changes it, as with a per-site secret) and group; a connected agent gets its new
 * policy at once. The group stays the agent's claim at its next reconnect when its own
 * config names one (no secret or pin carries a group; see gateway/pinning.ts).
 */
export function agentAssignRoute(store: Store, gateway: Gateway, policies: PolicyService): Route {
  return {
    method: 'POST', path: '/api/agents/:id/assign', roles: ['admin'],
    handle: async ({ res, params, body, principal }) => {
      const id = params.id!;
      const { site, group } = parse(z.object({ site: Place, group: Place }).strict(), await body());
      const before = await store.agents.get(id);
      if (!before) throw new AppError('not_found', `no agent ${id}; see GET /api/agents`);
      await store.agents.assign(id, site, group);
      const policy = policyForAgent(policies.policyFor, { site, group, sitePinned: site !== null });
      await store.audit.record(actorOf(principal), 'agent-assign', { agentId: id, hostname: before.hostname, from: { site: before.site, group: before.grp }, to: { site, group }, policy: `${policy.name}@${policy.version}` });
      gateway.reassign(id, site, group, policies.policyFor);
      sendJson(res, 200, { agentId: id, site, group, policy: { name: policy.name, version: policy.version } });
    },
  };
}

const AuditQuery = z.object({
  actor: z.string().max(200).optional(),
  action: z.string().max(100).optional(),
  since: z.iso.datetime({ offset: true }).or(z.iso.date()).optional(),
  until: z.iso.datetime({ offset: true }).or(z.iso.date()).optional(),
});

/** A date alone means the whole day (UTC) for `until`, its start for `since`. */
function bound(v: string | undefined, end: boolean): number | null {
  if (v === undefined) return null;
  const ms = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(v) ? `${v}T00:00:00Z` : v);
  return end && /^\d{4}-\d{2}-\d{2}$/.test(v) ? ms + 86_400_000 - 1 : ms;
}

/** GET /api/audit.csv?actor=&action=&since=&until= (admin): the audit log, filtered, newest first; the export itself is audited. */
export function auditCsvRoute(store: Store): Route {
  return {
    method: 'GET', path: '/api/audit.csv', roles: ['admin'],
    handle: async ({ res, url, principal }) => {
      const q = AuditQuery.safeParse(Object.fromEntries(url.searchParams));
      if (!q.success) throw new AppError('bad_request', `query ${firstIssue(q.error).line}; since/until are ISO 8601 dates or times`);
      const { actor, action } = q.data;
      const since = bound(q.data.since, false);
      const until = bound(q.data.until, true);
      const keep = (e: { at: string; actor: string; action: string }) => {
        const at = Date.parse(e.at);
        return (!actor || e.actor.toLowerCase().includes(actor.toLowerCase())) && (!action || e.action === action)
          && (since === null || at >= since) && (until === null || at <= until);
      };
      await store.audit.record(actorOf(principal), 'audit-export', { ...q.data });
      res.writeHead(200, {
        'content-type': 'text/csv; charset=utf-8',
        'content-disposition': 'attachment; filename="consultguard-audit.csv"',
        'cache-control': 'no-store',
      });
      res.write(csvLine(['seq', 'at', 'actor', 'action', 'detail']));
      let before: number | undefined;
      let done = false;
      // Pages of 500 by seq: a long log streams at the client's pace (csv.ts).
      await streamLines(res, async () => {
        if (done) return null;
        const page = await store.audit.list(500, before);
        if (page.length < 500) done = true;
        const last = page[page.length - 1];
        if (last) before = last.seq;
        const lines = page.filter(keep).map((e) => csvLine([e.seq, e.at, e.actor, e.action, JSON.stringify(e.detail)]));
        if (since !== null && last && Date.parse(last.at) < since) done = true;
        return lines;
      });
    },
  };
}
