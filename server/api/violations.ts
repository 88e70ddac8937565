/** GET /api/violations: the feed, newest first, with filters and cursor pagination. */
import { z } from 'zod';
import { AppError } from '../../shared/errors.js';
import { AppState } from '../../shared/snapshot.js';
import { firstIssue } from '../../shared/zod-errors.js';
import type { ViolationFilter, ViolationStore } from '../store/violations.js';

const Time = z
  .string()
  .refine((s) => !Number.isNaN(Date.parse(s)), { message: 'expected an ISO 8601 time such as 2026-11-23T09:00:00Z' })
  .transform((s) => Date.parse(s));

export const FeedQuery = z.object({
  app: z.string().max(64).optional(),
  agent: z.string().max(64).optional(),
  site: z.string().max(128).optional(),
  state: AppState.optional(),
  since: Time.optional(),
  until: Time.optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().max(200).optional(),
});
export type FeedQuery = z.infer<typeof FeedQuery>;

export function parseFeedQuery(params: URLSearchParams): FeedQuery {
  const raw: Record<string, string> = {};
  for (const [k, v] of params) if (v !== '') raw[k] = v;
  const result = FeedQuery.safeParse(raw);
  if (!result.success) throw new AppError('bad_request', `query ${firstIssue(result.error).line}`);
  return result.data;
}

export function encodeCursor(c: { startedAt: number; seq: number }): string {
  return Buffer.from(`${c.startedAt}.${c.seq}`).toString('base64url');
}

export function decodeCursor(text: string): { startedAt: number; seq: number } {
  const m = /^(\d+)\.(\d+)$/.exec(Buffer.from(text, 'base64url').toString());
  if (!m) throw new AppError('bad_request', 'query cursor: not a cursor from a previous page; pass the "next" value unchanged');
  return { startedAt: Number(m[1]), seq: Number(m[2]) };
}

export function feedPage(store: ViolationStore, q: FeedQuery) {
  const filter: ViolationFilter = { app: q.app, agent: q.agent, site: q.site, state: q.state, since: q.since, until: q.until };
  const page = store.list(filter, q.limit, q.cursor ? decodeCursor(q.cursor) : undefined);
  return { items: page.items, next: page.next ? encodeCursor(page.next) : null };
}
