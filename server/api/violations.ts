/** The violations feed: JSON pages, CSV export and the live stream, all with the same filters. */
import { z } from 'zod';
import { AppError } from '../../shared/errors.js';
import { AppState } from '../../shared/snapshot.js';
import { firstIssue } from '../../shared/zod-errors.js';
import type { Violation } from '../../shared/api-types.js';
import type { ExceptionStore, RevealStore, ViolationFilter, ViolationStore } from '../store/types.js';
import { csvLine, streamLines } from './csv.js';
import { sendJson } from './http.js';
import type { LiveFeed } from './live.js';
import { actorOf, type Ctx, type Principal, type Route } from './router.js';
import { streamCsvOffThread } from './csv-off-thread.js';
import type { OffThreadReads } from './reads-off-thread.js';

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
  hostname: z.string().max(255).optional(),
  user: z.string().max(256).optional(),
  q: z.string().max(100).optional(),
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

export function toFilter(q: FeedQuery): ViolationFilter {
  return { app: q.app, agent: q.agent, site: q.site, state: q.state, since: q.since, until: q.until, hostname: q.hostname, user: q.user, q: q.q };
}

export function encodeCursor(c: { startedAt: number; seq: number }): string {
  return Buffer.from(`${c.startedAt}.${c.seq}`).toString('base64url');
}

export function decodeCursor(text: string): { startedAt: number; seq: number } {
  const m = /^(\d+)\.(\d+)$/.exec(Buffer.from(text, 'base64url').toString());
  if (!m) throw new AppError('bad_request', 'query cursor: not a cursor from a previous page; pass the "next" value unchanged');
  return { startedAt: Number(m[1]), seq: Number(m[2]) };
}

/** A feed page as the API sends it: each violation with its exception (or null), and the next cursor. */
export async function feedPage(store: ViolationStore, q: FeedQuery) {
  const page = await store.feed(toFilter(q), q.limit, q.cursor ? decodeCursor(q.cursor) : undefined);
  return { items: page.items, next: page.next ? encodeCursor(page.next) : null };
}

const CSV_COLUMNS: Array<keyof Violation> = ['id', 'agentId', 'hostname', 'site', 'user', 'app', 'state', 'via', 'startedAt', 'endedAt', 'durationSec', 'nudged', 'nudgeClicked', 'evidence'];
const CSV_MAX_ROWS = 1_000_000;
const CSV_PAGE = 500;

const Ack = z.object({ status: z.enum(['acknowledged', 'resolved']), note: z.string().max(2000).default('') });
const TrendQuery = z.object({ since: Time, until: Time });
const Reveal = z.object({
  reason: z.string({ error: 'expected { "reason": "..." }: why you need this name; it is kept in the audit log' })
    .trim().min(3, 'say why you need this name (at least 3 characters); it is kept in the audit log').max(500),
});

const REFUSED = {
  no_user: 'this violation has no user name: the workstation reported none',
  hashed: 'this clinician cannot be revealed: the workstation\'s policy sends only a keyed hash of user names, so the name never reached the server',
  erased: 'this clinician was erased by a data-subject request; there is no name to reveal',
} as const;

export type Audit = (principal: Principal | null, action: string, detail?: Record<string, unknown>) => Promise<void>;
/** Whether the credential behind a request is still valid (a live stream re-checks it). */
export type CredentialCheck = (principal: Principal | null) => () => Promise<boolean>;

const violationPath = (agentId: string, id: string) => `/api/violations/${encodeURIComponent(agentId)}/${encodeURIComponent(id)}`;

/** Where a worker thread finds the store for CSV exports (none: the export runs on the event loop). */
export interface OffThread {
  file: string;
  showNames: boolean;
  /** Trends and filter lists from a worker thread (reads-off-thread.ts); missing: on the loop. */
  reads?: OffThreadReads;
}

/** `appName` is the catalog's display name (Zoom, WhatsApp), written beside the id in the CSV. */
export function violationRoutes(store: ViolationStore, live: LiveFeed, audit: Audit, timezone: () => string, credentialLive: CredentialCheck, reveals: RevealStore, appName: (id: string) => string = (id) => id, exceptions?: ExceptionStore, offThread?: OffThread): Route[] {
  const csvHeader = CSV_COLUMNS.flatMap((c): string[] => (c === 'app' ? ['app', 'appName'] : [c]));
  const csvRow = (v: Violation) => CSV_COLUMNS.flatMap((c) => (c === 'app' ? [v.app, appName(v.app)] : [v[c]]));
  /**
   * A clinician's name, to the caller only: with a reason, recorded in the violation's
   * timeline and the audit log (the pseudonym and the reason, never the name), never
   * cached (no-store) and never pushed to the live feed.
   */
  const reveal = async ({ res, principal, body }: Ctx, agentId: string, id: string) => {
    const parsed = Reveal.safeParse(await body());
    if (!parsed.success) throw new AppError('bad_request', `body ${firstIssue(parsed.error).line}`);
    const { reason } = parsed.data;
    const by = actorOf(principal);
    const r = await reveals.reveal(agentId, id, by, reason);
    if (!r.ok) {
      if (r.why === 'not_found') throw new AppError('not_found', `no violation ${id} from agent ${agentId}`);
      await audit(principal, 'reveal-name-refused', { agentId, id, why: r.why, pseudonym: r.pseudonym, reason });
      throw new AppError('not_found', REFUSED[r.why]);
    }
    await audit(principal, 'reveal-name', { agentId, id, pseudonym: r.pseudonym, reason });
    sendJson(res, 200, { user: r.user, pseudonym: r.pseudonym, revealedAt: new Date(r.at).toISOString(), by, reason });
  };
  let filterCache: { at: number; value: Awaited<ReturnType<ViolationStore['filterValues']>> } | null = null;
  return [
    {
      method: 'GET', path: '/api/violations', roles: ['lead', 'admin'],
      handle: async ({ res, url, principal }) => {
        const q = parseFeedQuery(url.searchParams);
        // Sessions (people) are audited per feed view; API tokens (SIEM polling) are not, or the log drowns.
        // The entry and the page are written and read side by side (on PostgreSQL, two
        // connections at once, not one round trip after the other); the page goes out only
        // once both are done, so a view whose entry failed is not shown.
        const viewed = principal?.kind === 'session' && !q.cursor ? audit(principal, 'view-feed', { filter: Object.fromEntries(url.searchParams) }) : null;
        const [page] = await Promise.all([feedPage(store, q), viewed]);
        sendJson(res, 200, page);
      },
    },
    {
      // A violation is addressed by agent AND id: violationIds are made by each agent and
      // are unique per agent only.
      method: 'GET', path: '/api/violations/:agentId/:id', roles: ['lead', 'admin'],
      handle: async ({ res, params, principal }) => {
        const d = await store.detail(params.agentId!, params.id!);
        if (!d) throw new AppError('not_found', `no violation ${params.id} from agent ${params.agentId}`);
        await audit(principal, 'view-violation', { agentId: params.agentId, id: params.id });
        sendJson(res, 200, exceptions ? { ...d, violation: { ...d.violation, exception: await exceptions.get(params.agentId!, params.id!) } } : d);
      },
    },
    {
      // The old single-id address: never guessed at. One match is redirected to its full
      // address; several are refused with the way to tell them apart.
      method: 'GET', path: '/api/violations/:id', roles: ['lead', 'admin'],
      handle: async ({ res, params }) => {
        const agents = await store.agentsWithId(params.id!);
        if (agents.length === 0) throw new AppError('not_found', `no violation ${params.id}`);
        if (agents.length > 1) throw new AppError('bad_request', `violation id ${params.id} is used by ${agents.length} agents; address it as /api/violations/AGENT_ID/${params.id}`);
        res.writeHead(308, { location: violationPath(agents[0]!, params.id!), 'cache-control': 'no-store' });
        res.end();
      },
    },
    {
      method: 'POST', path: '/api/violations/:agentId/:id/reveal', roles: ['lead', 'admin'],
      handle: (ctx) => reveal(ctx, ctx.params.agentId!, ctx.params.id!),
    },
    {
      // CONTRACTS section 4's address: resolved like the old GET (one agent has that id:
      // that violation; several: a 400 naming the full address). A POST is not redirected.
      method: 'POST', path: '/api/violations/:id/reveal', roles: ['lead', 'admin'],
      handle: async (ctx) => {
        const agents = await store.agentsWithId(ctx.params.id!);
        if (agents.length === 0) throw new AppError('not_found', `no violation ${ctx.params.id}`);
        if (agents.length > 1) throw new AppError('bad_request', `violation id ${ctx.params.id} is used by ${agents.length} agents; address it as /api/violations/AGENT_ID/${ctx.params.id}/reveal`);
        return reveal(ctx, agents[0]!, ctx.params.id!);
      },
    },
    {
      method: 'POST', path: '/api/violations/:agentId/:id/ack', roles: ['lead', 'admin'],
      handle: async ({ res, params, principal, body }) => {
        const parsed = Ack.safeParse(await body());
        if (!parsed.success) throw new AppError('bad_request', `body ${firstIssue(parsed.error).line}`);
        const v = await store.acknowledge(params.agentId!, params.id!, parsed.data.status, principal?.name ?? principal?.id ?? '?', parsed.data.note);
        if (!v) throw new AppError('not_found', `no violation ${params.id} from agent ${params.agentId}`);
        await audit(principal, parsed.data.status === 'resolved' ? 'resolve' : 'acknowledge', { agentId: params.agentId, id: params.id, note: parsed.data.note });
        live.publish([v]);
        sendJson(res, 200, { violation: v });
      },
    },
    {
      method: 'GET', path: '/api/trends', roles: ['lead', 'admin'],
      handle: async ({ res, url, principal }) => {
        const raw = Object.fromEntries(url.searchParams);
        const parsed = TrendQuery.safeParse({ since: raw.since ?? new Date(Date.now() - 30 * 86_400_000).toISOString(), until: raw.until ?? new Date(Date.now() + 60_000).toISOString() });
        if (!parsed.success) throw new AppError('bad_request', `query ${firstIssue(parsed.error).line}`);
        await audit(principal, 'view-trends', raw);
        const { since, until } = parsed.data;
        if (offThread?.reads) {
          const r = await offThread.reads.trends(since, until, timezone(), exceptions !== undefined);
          sendJson(res, 200, r.exceptions ? { ...r.trends, exceptions: r.exceptions } : r.trends);
          return;
        }
        const trends = await store.trends(since, until, timezone());
        sendJson(res, 200, exceptions ? { ...trends, exceptions: await exceptions.counts(since, until) } : trends);
      },
    },
    {
      method: 'GET', path: '/api/filters', roles: ['lead', 'admin'],
      handle: async ({ res }) => {
        // A GROUP BY over every violation: cached for a minute.
        if (!filterCache || Date.now() - filterCache.at > 60_000) filterCache = { at: Date.now(), value: await (offThread?.reads ? offThread.reads.filterValues() : store.filterValues()) };
        sendJson(res, 200, filterCache.value);
      },
    },
    {
      method: 'GET', path: '/api/violations.csv', roles: ['lead', 'admin'],
      handle: async ({ res, url, principal }) => {
        const q = parseFeedQuery(url.searchParams);
        const filter = toFilter(q);
        await audit(principal, 'export-csv', { filter: Object.fromEntries(url.searchParams) });
        res.writeHead(200, {
          'content-type': 'text/csv; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff',
          'content-disposition': `attachment; filename="consultguard-violations-${new Date().toISOString().slice(0, 10)}.csv"`,
        });
        if (offThread) {
          // A worker with its own connection pages through the rows (issue 18).
          const appNames = Object.fromEntries((await store.filterValues()).apps.map((a) => [a, appName(a)]));
          await streamCsvOffThread(res, csvLine(csvHeader), { file: offThread.file, showNames: offThread.showNames, filter, columns: CSV_COLUMNS, appNames, maxRows: CSV_MAX_ROWS, page: CSV_PAGE });
          return;
        }
        if (store.stream) {
          // PostgreSQL: pages of one server-side cursor (one snapshot), each read when the client has taken the last.
          const pages = store.stream(filter, CSV_PAGE);
          let sent = 0;
          let header = true;
          try {
            await streamLines(res, async () => {
              if (header) {
                header = false;
                return [csvLine(csvHeader)];
              }
              if (sent >= CSV_MAX_ROWS) return null;
              const next = await pages.next();
              if (next.done) return null;
              const page = next.value.slice(0, CSV_MAX_ROWS - sent);
              sent += page.length;
              return page.map((v) => csvLine(csvRow(v)));
            });
          } finally {
            await pages.return(undefined);
          }
          return;
        }
        // Keyset pages of CSV_PAGE rows: memory stays flat for any export size, and the
        // reply waits for the client (see streamLines).
        let cursor: { startedAt: number; seq: number } | undefined;
        let rows = 0;
        let first = true;
        let last = false;
        await streamLines(res, async () => {
          if (first) {
            first = false;
            return [csvLine(csvHeader)];
          }
          if (last || rows >= CSV_MAX_ROWS) return null;
          const page = await store.list(filter, Math.min(CSV_PAGE, CSV_MAX_ROWS - rows), cursor);
          rows += page.items.length;
          cursor = page.next ?? undefined;
          last = !cursor;
          return page.items.map((v) => csvLine(csvRow(v)));
        });
      },
    },
    {
      method: 'GET', path: '/api/violations/stream', roles: ['lead', 'admin'],
      handle: ({ res, principal }) => live.subscribe(res, credentialLive(principal)),
    },
  ];
}
