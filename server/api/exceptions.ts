/**
 * Clinician exceptions, the lead's side (issue 14): `POST /api/violations/:agentId/:id/exception`
 * `{decision: 'accept' | 'reject', note}` records the decision on the clinician's claim
 * ("exception claimed: reason"), audited; the feed, detail and trends show it.
 */
import { z } from 'zod';
import { AppError } from '../../shared/errors.js';
import { firstIssue } from '../../shared/zod-errors.js';
import type { Violation } from '../../shared/api-types.js';
import type { ExceptionStore, ViolationStore } from '../store/types.js';
import { sendJson } from './http.js';
import type { LiveFeed } from './live.js';
import type { Route } from './router.js';
import type { Audit } from './violations.js';

const Decision = z.object({ decision: z.enum(['accept', 'reject']), note: z.string().max(2000).default('') }).strict();

/** Adds `exception` (or null) to each violation of a feed page or detail. */
export async function withExceptions<T extends Pick<Violation, 'agentId' | 'id'>>(exceptions: ExceptionStore, items: T[]): Promise<Array<T & { exception: Awaited<ReturnType<ExceptionStore['get']>> }>> {
  const found = await exceptions.forViolations(items);
  return items.map((v) => ({ ...v, exception: found.get(`${v.agentId}\u0000${v.id}`) ?? null }));
}

export function exceptionRoutes(exceptions: ExceptionStore, violations: ViolationStore, live: LiveFeed, audit: Audit): Route[] {
  return [
    {
      method: 'POST', path: '/api/violations/:agentId/:id/exception', roles: ['lead', 'admin'],
      handle: async ({ res, params, principal, body }) => {
        const parsed = Decision.safeParse(await body());
        if (!parsed.success) throw new AppError('bad_request', `body ${firstIssue(parsed.error).line}; expected {"decision": "accept" | "reject", "note": "..."}`);
        const agentId = params.agentId!;
        const id = params.id!;
        const v = await violations.get(agentId, id);
        if (!v) throw new AppError('not_found', `no violation ${id} from agent ${agentId}`);
        if (!(await exceptions.get(agentId, id))) throw new AppError('bad_request', `violation ${id} has no exception claimed by the clinician; there is nothing to accept or reject`);
        const decision = parsed.data.decision === 'accept' ? 'accepted' : 'rejected';
        const exception = await exceptions.decide(agentId, id, decision, principal?.name ?? principal?.id ?? '?', parsed.data.note);
        await audit(principal, decision === 'accepted' ? 'exception-accept' : 'exception-reject', { agentId, id, reason: exception?.reason, note: parsed.data.note });
        const [withX] = await withExceptions(exceptions, [v]);
        live.publish([v]);
        sendJson(res, 200, { violation: withX, exception });
      },
    },
  ];
}
