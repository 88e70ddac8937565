/** The violations feed: JSON pages, CSV export and the live stream, all with the same filters. */
import { z } from 'zod';
import { AppError } from '../../shared/errors.js';
import { AppState } from '../../shared/snapshot.js';
import { firstIssue } from '../../shared/zod-errors.js';
import type { Violation, ViolationFilter, ViolationStore } from '../store/violations.js';
import { csvLine } from './csv.js';
import { sendJson } from './http.js';
import type { LiveFeed } from './live.js';
import type { Route } from './router.js';

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

const CSV_COLUMNS: Array<keyof Violation> = ['id', 'agentId', 'hostname', 'site', 'user', 'app', 'state', 'via', 'startedAt', 'endedAt', 'durationSec', 'nudged', 'nudgeClicked', 'evidence'];
const CSV_MAX_ROWS = 1_000_000;

export function violationRoutes(store: ViolationStore, live: LiveFeed): Route[] {
  return [
    {
      method: 'GET', path: '/api/violations', roles: ['lead', 'admin'],
      handle: ({ res, url }) => sendJson(res, 200, feedPage(store, parseFeedQuery(url.searchParams))),
    },
    {
      method: 'GET', path: '/api/violations.csv', roles: ['lead', 'admin'],
      handle: ({ res, url }) => {
        const q = parseFeedQuery(url.searchParams);
        const filter: ViolationFilter = { app: q.app, agent: q.agent, site: q.site, state: q.state, since: q.since, until: q.until };
        res.writeHead(200, {
          'content-type': 'text/csv; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff',
          'content-disposition': `attachment; filename="consultguard-violations-${new Date().toISOString().slice(0, 10)}.csv"`,
        });
        res.write(csvLine(CSV_COLUMNS));
        // Page through with the keyset cursor so memory stays flat for any export size.
        let cursor: { startedAt: number; seq: number } | undefined;
        let rows = 0;
        do {
          const page = store.list(filter, 1000, cursor);
          for (const v of page.items) res.write(csvLine(CSV_COLUMNS.map((c) => v[c])));
          rows += page.items.length;
          cursor = page.next ?? undefined;
        } while (cursor && rows < CSV_MAX_ROWS);
        res.end();
      },
    },
    {
      method: 'GET', path: '/api/violations/stream', roles: ['lead', 'admin'],
      handle: ({ res }) => live.subscribe(res),
    },
  ];
}
