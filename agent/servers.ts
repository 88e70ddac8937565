/**
 * Which server the agent talks to, and when it tries again (CONTRACTS section 1:
 * `--server URL[,URL2,...]`). Every URL names an instance of one cluster (one store), so the
 * agent's token is good on each and the outbox drains through whichever answers.
 *
 * The order: after a failure the next URL at once (with a little jitter, so a fleet whose
 * server died does not hit the next one in the same millisecond); once a whole round of the
 * list has failed, capped exponential back-off with full jitter before the next round. A
 * connection that ends in a refusal (a 44xx close: unauthorised, bad message, too many
 * messages) counts as a failure even after a `welcome`, so a server that accepts and then
 * refuses is never retried in a tight loop.
 */
import { AppError } from '../shared/errors.js';
import { isLoopbackHost } from '../shared/net.js';
import { AGENT_PATH } from '../shared/protocol.js';

/**
 * Validates one server URL and returns its agent endpoint. `which` names the URL in a
 * list ("URL 2 of 3") so a bad entry in a long list is found at once.
 */
export function agentEndpoint(serverUrl: string, insecure: boolean, which = ''): string {
  const where = `--server${which ? ` (${which})` : ''}`;
  let url: URL;
  try {
    url = new URL(serverUrl);
  } catch {
    throw new AppError('bad_option', `${where}: "${serverUrl}" is not a URL; expected wss://HOST:PORT`);
  }
  if (url.protocol === 'http:') url.protocol = 'ws:';
  if (url.protocol === 'https:') url.protocol = 'wss:';
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw new AppError('bad_option', `${where}: expected a wss:// URL, got ${url.protocol}`);
  // The URL parser has already normalised IPv4 shorthands (127.1, 0x7f.1) to dotted quads.
  if (url.protocol === 'ws:' && !isLoopbackHost(url.hostname) && !insecure) {
    throw new AppError('bad_option', `${where}: plain ws:// to ${url.hostname} would send events unencrypted; use wss:// (or --insecure on a trusted test network)`);
  }
  if (url.pathname === '/' || url.pathname === '') url.pathname = AGENT_PATH;
  return url.toString();
}

/** `URL1,URL2,...` (or a config file's array) as validated agent endpoints, in the order given. */
export function serverEndpoints(list: string | readonly string[], insecure: boolean): string[] {
  const urls = (typeof list === 'string' ? list.split(',') : list).map((s) => s.trim()).filter((s) => s !== '');
  if (urls.length === 0) throw new AppError('bad_option', '--server: expected at least one URL, wss://HOST:PORT[,wss://HOST2:PORT]');
  const endpoints = urls.map((u, i) => agentEndpoint(u, insecure, urls.length > 1 ? `URL ${i + 1} of ${urls.length}, "${u}"` : ''));
  const seen = new Set<string>();
  for (const [i, e] of endpoints.entries()) {
    if (seen.has(e)) throw new AppError('bad_option', `--server (URL ${i + 1} of ${urls.length}): ${e} is listed twice`);
    seen.add(e);
  }
  return endpoints;
}

/** A 44xx close is the server refusing this agent (CONTRACTS section 3), not a broken link. */
export function isRefusal(code: number): boolean {
  return code >= 4400 && code < 4500;
}

export interface FailoverOptions {
  endpoints: string[];
  backoff: { minMs: number; maxMs: number };
  random?: () => number;
}

/** How a connection to the current endpoint ended. */
export interface Ended {
  /** The server sent `welcome` on it. */
  welcomed: boolean;
  code: number;
  /** The agent presented its token on it and the server refused it (4401). */
  tokenRefused: boolean;
}

export function createFailover(opts: FailoverOptions) {
  const { endpoints, backoff } = opts;
  const random = opts.random ?? Math.random;
  let index = 0;
  /** Failed attempts in this round; a round is one try of every URL. */
  let tries = 0;
  /** Whole rounds failed in a row: the exponent of the back-off. */
  let rounds = 0;
  /** A server refused the token in this round. */
  let tokenRefusedInRound = false;

  return {
    endpoints: (): string[] => [...endpoints],
    current: (): string => endpoints[index]!,
    /**
     * Moves on from the endpoint just used; answers how long to wait before the next try and
     * whether the token is dead. The token is dropped only when a whole round went by without
     * a welcome and some server refused the token: on one cluster every instance knows it,
     * so one instance refusing while another is merely down must not cost the agent its identity.
     */
    ended(e: Ended): { delayMs: number; dropToken: boolean } {
      index = (index + 1) % endpoints.length;
      if (e.welcomed && !isRefusal(e.code)) {
        // The link worked and was lost (server stopped or killed, network cut): a new round,
        // after half to all of the minimum back-off (a fleet spreads out over the survivors).
        tries = 0;
        rounds = 0;
        tokenRefusedInRound = false;
        return { delayMs: Math.round(backoff.minMs / 2 + random() * (backoff.minMs / 2)), dropToken: false };
      }
      tries++;
      if (e.tokenRefused) tokenRefusedInRound = true;
      if (tries < endpoints.length) return { delayMs: hop(), dropToken: false };
      const dropToken = tokenRefusedInRound;
      tries = 0;
      tokenRefusedInRound = false;
      const cap = Math.min(backoff.maxMs, backoff.minMs * 2 ** rounds);
      rounds++;
      return { delayMs: Math.round(backoff.minMs / 2 + random() * (cap - backoff.minMs / 2)), dropToken };
    },
  };

  /** The pause before the next URL of the same round: up to a quarter of the minimum back-off. */
  function hop(): number {
    return Math.round(random() * (backoff.minMs / 4));
  }
}

export type Failover = ReturnType<typeof createFailover>;
