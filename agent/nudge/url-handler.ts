/**
 * The `consultguard:` URL handler (Windows toast buttons, protocol activation):
 * `consultguard-service.exe open-url URL` -> `node agent.mjs nudge-helper --handle-url URL`,
 * as the clicking user, in a process of its own.
 *
 * Any program or web page can open a `consultguard:` URL, so the URL carries only the action
 * and the nudge id, never what to launch: the target comes from the pending file the helper
 * wrote for that nudge when it showed the toast (per-user folder, the user's own files). An
 * unknown, expired or malformed id opens nothing. The shapes (service-host.c lets through only
 * letters, digits and `?=&-/`, at most 160 characters):
 *
 *   consultguard:open?n=ID | about?n=ID | sees?n=ID | dismiss?n=ID
 *       open what the helper named for that nudge (the approved app, the "why" page, the
 *       "What ConsultGuard sees" page) or record "Not now"; harmless if forged: the worst a
 *       page that guessed an id can do is open one of those for the user
 *   consultguard:need?n=ID&t=NONCE            "I need this app...": the toast asks for the reason
 *   consultguard:claim?n=ID&r=REASON&t=NONCE  claim an exception for that nudge with that reason
 *
 * A claim changes what the agent does (no nudges for a while) and what the lead sees, so it
 * is bound to a real pending nudge by NONCE: 128 random bits the helper made for that one
 * toast, kept in the pending file and in the toast's own XML (both only this user's), never
 * sent to the agent or the server, so a web page cannot know it. REASON must be one of the
 * policy's reasons the pending file lists (the agent checks it again against the policy in
 * force). A claim is taken once: the handler creates clicks/ID.claim exclusively, so a second
 * claim from the same nudge (a replayed URL, a double click) is refused, and the helper
 * deletes the pending file when the nudge is over, so a later replay finds no nudge at all.
 *
 * Order: the click is recorded durably first (click file, fsynced, renamed into place), then
 * the target is opened, then the result is recorded beside it. The helper's toast script
 * watches for the click file and reports the choice to the helper, which tells the agent
 * over its IPC (win32.ts, present.ts).
 *
 * Per OS: only Windows registers the scheme (wxs.ts); the module is plain files and a spawn,
 * so its tests run on Linux with a stub target.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import * as z from 'zod';
import { AppError } from '../../shared/errors.js';
import { launch as defaultLaunch, type Launch } from './open.js';

const Id = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
const Nonce = z.string().regex(/^[0-9a-f]{32}$/);
const ReasonId = z.string().regex(/^[a-z0-9][a-z0-9-]{0,40}$/);
export type UrlAction = 'open' | 'about' | 'sees' | 'dismiss' | 'need' | 'claim';
/** The actions that need the toast's nonce (they change what the agent does). */
const KEYED: ReadonlySet<UrlAction> = new Set(['need', 'claim']);

const LaunchSchema = z.object({ cmd: z.string().min(1).max(1000), args: z.array(z.string().max(2000)).max(16) });

/** What the helper leaves for the handler when it shows a nudge. */
export const PendingNudge = z.object({
  v: z.literal(1),
  id: Id,
  /** ms since the epoch: after this the toast is gone and a click opens nothing. */
  expiresAt: z.number().int(),
  open: LaunchSchema,
  about: LaunchSchema.optional(),
  /** Opens "What ConsultGuard sees" (the page the helper rendered for this toast). */
  sees: LaunchSchema.optional(),
  /** The toast's secret for need/claim URLs; absent: this nudge offers no exception. */
  nonce: Nonce.optional(),
  /** The policy's exception reason ids this nudge offered. */
  reasons: z.array(ReasonId).max(6).optional(),
});
export type PendingNudge = z.infer<typeof PendingNudge>;

export const pendingFile = (dir: string, id: string): string => join(dir, 'pending', `${id}.json`);
export const clickFile = (dir: string, id: string): string => join(dir, 'clicks', id);

/** A fresh per-toast nonce for need/claim URLs. */
export const newToastNonce = (): string => randomBytes(16).toString('hex');

export interface ParsedUrl {
  action: UrlAction;
  id: string;
  reason?: string;
  nonce?: string;
}

const EXPECTED = 'expected consultguard:open|about|sees|dismiss?n=<nudge id>, consultguard:need?n=<nudge id>&t=<key> or consultguard:claim?n=<nudge id>&r=<reason>&t=<key>';

/** Strict: one of the shapes above, parameters in that order, nothing else. */
export function parseNudgeUrl(url: string): ParsedUrl {
  const text = url.trim();
  const plain = /^consultguard:(open|about|sees|dismiss)\?n=([0-9a-fA-F-]{36})$/i.exec(text);
  const need = /^consultguard:need\?n=([0-9a-fA-F-]{36})&t=([0-9a-f]{32})$/i.exec(text);
  const claim = /^consultguard:claim\?n=([0-9a-fA-F-]{36})&r=([a-z0-9][a-z0-9-]{0,40})&t=([0-9a-f]{32})$/i.exec(text);
  const parsed: ParsedUrl | null = plain
    ? { action: plain[1]!.toLowerCase() as UrlAction, id: plain[2]!.toLowerCase() }
    : need
      ? { action: 'need', id: need[1]!.toLowerCase(), nonce: need[2]!.toLowerCase() }
      : claim
        ? { action: 'claim', id: claim[1]!.toLowerCase(), reason: claim[2]!.toLowerCase(), nonce: claim[3]!.toLowerCase() }
        : null;
  if (!parsed || !Id.safeParse(parsed.id).success) throw new AppError('bad_option', `--handle-url: ${EXPECTED}, got "${url.slice(0, 80)}"`);
  return parsed;
}

const sameNonce = (a: string, b: string): boolean => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/** Write-then-rename with fsync: a reader sees the whole file or none of it, even after a crash. */
function writeDurably(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/** Helper side: called before the toast is shown. Old files (a day or more) are removed. */
export function writePending(dir: string, pending: PendingNudge, now = Date.now()): void {
  for (const sub of ['pending', 'clicks']) {
    mkdirSync(join(dir, sub), { recursive: true });
    for (const name of readdirSync(join(dir, sub))) {
      const f = join(dir, sub, name);
      try {
        if (now - statSync(f).mtimeMs > 86_400_000) rmSync(f, { force: true });
      } catch {
        // removed meanwhile
      }
    }
  }
  writeDurably(pendingFile(dir, pending.id), JSON.stringify(PendingNudge.parse(pending)));
}

function readPending(dir: string, id: string): PendingNudge | null {
  try {
    const parsed = PendingNudge.safeParse(JSON.parse(readFileSync(pendingFile(dir, id), 'utf8')));
    return parsed.success && parsed.data.id === id ? parsed.data : null;
  } catch {
    return null;
  }
}

/** Helper side, when the nudge is over: its URLs open nothing any more. */
export function removePending(dir: string, id: string): void {
  rmSync(pendingFile(dir, id), { force: true });
}

export interface HandleResult {
  action: UrlAction;
  id: string;
  /** null: opened (or nothing to open, for dismiss, need and claim); else why not. */
  problem: string | null;
}

/** Why a need/claim URL is refused for this pending nudge, or null. Claims also take the one-shot marker. */
function keyProblem(dir: string, url: ParsedUrl, pending: PendingNudge): string | null {
  if (!pending.nonce || !pending.reasons?.length) return 'this nudge offers no exception';
  if (!url.nonce || !sameNonce(url.nonce, pending.nonce)) return 'the link does not carry this nudge\'s key (not from its toast)';
  if (url.action !== 'claim') return null;
  if (!url.reason || !pending.reasons.includes(url.reason)) return `"${url.reason}" is not one of this nudge's reasons (${pending.reasons.join(', ')})`;
  try {
    closeSync(openSync(`${clickFile(dir, url.id)}.claim`, 'wx', 0o600));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return 'an exception was already claimed from this nudge';
    throw err;
  }
  return null;
}

export async function handleNudgeUrl(url: string, dir: string, deps: { launch?: (l: Launch) => Promise<string | null>; now?: () => number } = {}): Promise<HandleResult> {
  const parsed = parseNudgeUrl(url);
  const { action, id } = parsed;
  const pending = readPending(dir, id);
  if (!pending) return { action, id, problem: 'no such nudge on this account (unknown, over or already cleaned up)' };
  if ((deps.now ?? Date.now)() > pending.expiresAt) return { action, id, problem: 'this nudge has expired' };
  mkdirSync(join(dir, 'clicks'), { recursive: true });
  if (KEYED.has(action)) {
    const problem = keyProblem(dir, parsed, pending);
    if (problem) return { action, id, problem };
  }
  const file = clickFile(dir, id);
  writeDurably(file, `${action === 'claim' ? `claim:${parsed.reason}` : action}\n`);
  const target = action === 'open' ? pending.open : action === 'about' ? pending.about : action === 'sees' ? pending.sees : undefined;
  let problem: string | null = null;
  if (target) problem = await (deps.launch ?? defaultLaunch)(target);
  else if (action === 'about') problem = 'no "why" page for this nudge';
  else if (action === 'sees') problem = 'no "What ConsultGuard sees" page for this nudge';
  writeDurably(`${file}.result`, problem ? `failed: ${problem.replace(/[\r\n]+/g, ' ').slice(0, 300)}\n` : target ? 'opened\n' : 'recorded\n');
  return { action, id, problem };
}
