/**
 * Alert rules and report schedules over HTTP (the same as `alert ...` and `report ...` on
 * the CLI). Leads may read; admins change. A webhook secret is answered once, in the reply
 * that created it, and never after; every change and every test is audited.
 */
import { z } from 'zod';
import type { AlertRuleCreated, AlertRuleList, AlertTestReply, Removed, ReportRunState, ReportScheduleList, ReportScheduleView } from '../../shared/api-types.js';
import { AppError } from '../../shared/errors.js';
import { firstIssue } from '../../shared/zod-errors.js';
import type { AlertEngine } from '../alerts/engine.js';
import { createdSecrets, NewRule, ruleFrom, ruleView } from '../alerts/rules.js';
import { NewReport } from '../reports/schedule.js';
import type { AlertQueue, ReportSchedule, ReportStore } from '../store/types.js';
import { sendJson } from './http.js';
import { actorOf, type Principal, type Route } from './router.js';

export interface AlertApiDeps {
  alerts: AlertQueue;
  engine: Pick<AlertEngine, 'reload' | 'test'>;
  reports: ReportStore;
  audit: (p: Principal | null, action: string, detail: Record<string, unknown>) => Promise<void>;
}

function parse<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const r = schema.safeParse(body);
  if (!r.success) throw new AppError('bad_request', `body ${firstIssue(r.error).line}`);
  return r.data;
}

export async function reportView(reports: ReportStore, s: ReportSchedule): Promise<ReportScheduleView> {
  const last = await reports.lastRun(s.id);
  return {
    id: s.id, every: s.every, site: s.site, email: s.emails, createdAt: new Date(s.createdAt).toISOString(), createdBy: s.createdBy,
    // The store writes only these three states (server/reports/store.ts).
    lastRun: last ? { period: last.period, state: last.state as ReportRunState, sentAt: last.sent_at === null ? null : new Date(last.sent_at).toISOString(), error: last.last_error } : null,
  };
}

export function alertRoutes(deps: AlertApiDeps): Route[] {
  const { alerts, engine, reports, audit } = deps;
  return [
    { method: 'GET', path: '/api/alerts', roles: ['lead', 'admin'], handle: async ({ res }) => sendJson(res, 200, { items: (await alerts.rules()).map(ruleView) } satisfies AlertRuleList) },
    {
      method: 'POST', path: '/api/alerts', roles: ['admin'],
      handle: async ({ res, body, principal }) => {
        const rule = await alerts.addRule(ruleFrom(parse(NewRule, await body()), actorOf(principal)));
        await engine.reload();
        const view = ruleView(rule);
        await audit(principal, 'alert-add', { id: rule.id, on: rule.on, site: rule.site, channels: view.channels });
        sendJson(res, 201, { ...view, secrets: createdSecrets(rule) } satisfies AlertRuleCreated);
      },
    },
    {
      method: 'DELETE', path: '/api/alerts/:id', roles: ['admin'],
      handle: async ({ res, params, principal }) => {
        if (!(await alerts.removeRule(params.id!))) throw new AppError('not_found', `no alert rule ${params.id}; see GET /api/alerts`);
        await engine.reload();
        await audit(principal, 'alert-remove', { id: params.id });
        sendJson(res, 200, { id: params.id!, removed: true } satisfies Removed);
      },
    },
    {
      method: 'POST', path: '/api/alerts/:id/test', roles: ['admin'],
      handle: async ({ res, params, principal }) => {
        const results = await engine.test(params.id!);
        if (!results) throw new AppError('not_found', `no alert rule ${params.id}; see GET /api/alerts`);
        await audit(principal, 'alert-test', { id: params.id, results });
        sendJson(res, 200, { id: params.id!, ok: results.every((r) => r.ok), channels: results } satisfies AlertTestReply);
      },
    },
    { method: 'GET', path: '/api/reports', roles: ['lead', 'admin'], handle: async ({ res }) => sendJson(res, 200, { items: await Promise.all((await reports.list()).map((s) => reportView(reports, s))) } satisfies ReportScheduleList) },
    {
      method: 'POST', path: '/api/reports', roles: ['admin'],
      handle: async ({ res, body, principal }) => {
        const input = parse(NewReport, await body());
        const s = await reports.add({ every: input.every, site: input.site, emails: input.email, createdBy: actorOf(principal) });
        await audit(principal, 'report-add', { id: s.id, every: s.every, site: s.site, email: s.emails });
        sendJson(res, 201, (await reportView(reports, s)) satisfies ReportScheduleView);
      },
    },
    {
      method: 'DELETE', path: '/api/reports/:id', roles: ['admin'],
      handle: async ({ res, params, principal }) => {
        if (!(await reports.remove(params.id!))) throw new AppError('not_found', `no report schedule ${params.id}; see GET /api/reports`);
        await audit(principal, 'report-remove', { id: params.id });
        sendJson(res, 200, { id: params.id!, removed: true } satisfies Removed);
      },
    },
  ];
}
