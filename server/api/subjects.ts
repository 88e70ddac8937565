/**
 * Data-subject requests through the API (admin only): `GET /api/subjects/:name/export`
 * answers everything held about one clinician (store/subjects.ts), `POST
 * /api/subjects/:name/erase` erases or anonymises it. NAME is the user name the agents
 * report, percent-encoded (`CLINIC%5Cdr.lee`). Both are audited with the subject's
 * pseudonym, never the name.
 */
import { z } from 'zod';
import { AppError } from '../../shared/errors.js';
import { firstIssue } from '../../shared/zod-errors.js';
import type { Store } from '../store/index.js';
import { sendJson } from './http.js';
import { actorOf, type Principal, type Route } from './router.js';

type Audit = (principal: Principal | null, action: string, detail?: Record<string, unknown>) => Promise<void>;

/** The same rule as the CLI's `subject` commands (admin-cli.ts). */
export function subjectName(raw: string | undefined): string {
  const name = raw?.trim() ?? '';
  if (name.length === 0 || name.length > 256 || [...name].some((c) => c.charCodeAt(0) < 0x20)) {
    throw new AppError('bad_request', 'subject NAME: expected the user name the agents report, e.g. CLINIC\\dr.lee (at most 256 characters)');
  }
  return name;
}

const EraseBody = z.object({ reference: z.string().max(200).optional() });

export function subjectRoutes(store: Store, audit: Audit): Route[] {
  return [
    {
      method: 'GET', path: '/api/subjects/:name/export', roles: ['admin'],
      handle: async ({ res, params, principal }) => {
        const name = subjectName(params.name);
        const data = await store.subjects.exportSubject(name);
        await audit(principal, 'subject-export', { pseudonym: data.subject.pseudonym, violations: data.violations.length });
        res.setHeader('content-disposition', `attachment; filename="consultguard-subject-${data.subject.pseudonym}.json"`);
        sendJson(res, 200, data);
      },
    },
    {
      method: 'POST', path: '/api/subjects/:name/erase', roles: ['admin'],
      handle: async ({ res, params, principal, body }) => {
        const name = subjectName(params.name);
        const parsed = EraseBody.safeParse(await body());
        if (!parsed.success) throw new AppError('bad_request', `body ${firstIssue(parsed.error).line}`);
        const ref = parsed.data.reference;
        const result = await store.subjects.eraseSubject(name, actorOf(principal), ref ? { reference: ref } : undefined);
        sendJson(res, 200, result);
      },
    },
  ];
}
