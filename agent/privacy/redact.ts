/**
 * The policy's collection switches (shared/policy.ts `collection`), applied on the
 * workstation to everything bound for the server: violation events and nudge outcomes at
 * the moment they are queued in the outbox, and the hostname in `hello`. The nudger keeps
 * the real account name (it needs it to find the user's helper on this machine); only the
 * copies that leave are redacted. Same on Windows, macOS and Linux: it is text handling.
 */
import { createHmac } from 'node:crypto';
import type { Collection, EffectivePolicy } from '../../shared/policy.js';
import { DEFAULT_COLLECTION } from '../../shared/policy.js';
import type { Event, NudgeOutcome } from '../../shared/protocol.js';

/** `h:` + HMAC-SHA256(key, text) as hex: the server knows this form (pseudonyms, subject requests). */
export function keyedHash(key: string, text: string): string {
  return `h:${createHmac('sha256', key).update(text, 'utf8').digest('hex')}`;
}

const HASHED = /^h:[0-9a-f]{64}$/;
const URL_RE = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"')]+/gi;
/** A host with a path (`meet.google.com/abc-mnop-xyz`, `zoom.us/j/123`): a meeting link without a scheme. */
const HOST_PATH_RE = /\b(?:[a-z0-9-]+\.)+(?!app\/|exe\/|bundle\/|framework\/)[a-z]{2,}\/[^\s"')]*/gi;
/** Command-line switches (`--app=...`, `/join`): the evidence never carries a command line. */
const SWITCH_RE = /(?:^|\s)--?[a-z][\w-]*(?:=\S*)?/gi;
const WIN_HOME_RE = /([a-z]:\\(?:users|documents and settings)\\)[^\\\s]+/gi;
const POSIX_HOME_RE = /(\/(?:home|Users)\/)[^/\s]+/g;

/** Always applied: no URL, meeting link or command-line text in any evidence line. */
export function stripLinks(line: string): string {
  return line.replace(URL_RE, '[link not collected]').replace(HOST_PATH_RE, '[link not collected]').replace(SWITCH_RE, ' [command line not collected]').trim();
}

function stripUser(line: string, user: string | undefined): string {
  let out = line.replace(WIN_HOME_RE, '$1[user]').replace(POSIX_HOME_RE, '$1[user]');
  // The account's own name (and its part after a DOMAIN\ prefix) wherever it appears.
  for (const name of user ? [user, user.split('\\').pop() ?? ''] : []) {
    if (name.length >= 2) out = out.split(name).join('[user]');
  }
  return out;
}

/** `summary`: only the kind of signal, one line per kind, in a fixed wording. */
export function summarise(lines: string[]): string[] {
  const kinds = new Set<string>();
  for (const line of lines) {
    const l = line.toLowerCase();
    if (/^camera in use/.test(l)) kinds.add('camera in use by the app');
    else if (/^microphone in use/.test(l)) kinds.add('microphone in use by the app');
    else if (/join link|joining .* meeting/.test(l)) kinds.add('a join link on a command line (the link is not collected)');
    else if (/peer-to-peer/.test(l)) kinds.add('peer-to-peer call flow');
    else if (/\b(udp|tcp)\b.*media range|call media/.test(l)) kinds.add("network flow to the app's call media servers");
    else if (/\b(udp|tcp)\b/.test(l)) kinds.add("network flow to the app's servers");
    else if (/^browser .* running/.test(l)) kinds.add("the app's web client in a browser");
    else if (/call helper/.test(l)) kinds.add("the app's call helper process");
    else if (/^process /.test(l)) kinds.add("the app's process");
    else if (/no longer seen|consult hours|monitoring/.test(l)) kinds.add(line);
    else kinds.add('another signal of the app');
  }
  return [...kinds];
}

export interface Redactor {
  event(e: Event): Event;
  nudge(n: NudgeOutcome): NudgeOutcome;
  hostname(full: string): string;
  collection(): Collection;
}

export function createRedactor(policy: () => Pick<EffectivePolicy, 'collection'> | null): Redactor {
  const collection = (): Collection => policy()?.collection ?? DEFAULT_COLLECTION;
  const userOut = (c: Collection, user: string | undefined): string | undefined =>
    // An already hashed name (replayed from the outbox after a restart) is not hashed twice.
    user === undefined || c.userNames === 'full' || HASHED.test(user) ? user : keyedHash(c.hashKey ?? '', user);
  const text = (c: Collection, line: string, user: string | undefined): string => {
    const stripped = stripLinks(line);
    return (c.userNames === 'full' ? stripped : stripUser(stripped, user)).slice(0, 512);
  };

  return {
    collection,
    event(e) {
      const c = collection();
      const lines = e.evidence.map((l) => text(c, l, e.user));
      const out: Event = { ...e, evidence: c.evidence === 'summary' ? summarise(lines) : lines };
      const user = userOut(c, e.user);
      if (user === undefined) delete out.user;
      else out.user = user;
      return out;
    },
    nudge(n) {
      const c = collection();
      const out: NudgeOutcome = { ...n };
      const user = userOut(c, n.user);
      if (user !== undefined) out.user = user;
      if (n.detail !== undefined) out.detail = text(c, n.detail, n.user);
      return out;
    },
    hostname(full) {
      const c = collection();
      if (c.hostname === 'short') return full.split('.')[0] || full;
      if (c.hostname === 'hashed') return keyedHash(c.hashKey ?? '', full.toLowerCase());
      return full;
    },
  };
}
