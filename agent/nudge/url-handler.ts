/**
 * The `consultguard:` URL handler (Windows toast buttons, protocol activation):
 * `consultguard-service.exe open-url URL` -> `node agent.mjs nudge-helper --handle-url URL`,
 * as the clicking user, in a process of its own.
 *
 * Any program or web page can open a `consultguard:` URL, so the URL carries only the action
 * and the nudge id, never what to launch: the target comes from the pending file the helper
 * wrote for that nudge when it showed the toast (per-user folder, the user's own files). An
 * unknown, expired or malformed id opens nothing.
 *
 * Order: the click is recorded durably first (click file, fsynced, renamed into place), then
 * the target is opened, then the result is recorded beside it. The helper's toast script
 * watches for the click file and reports `clicked` to the agent (win32.ts).
 *
 * Per OS: only Windows registers the scheme (wxs.ts); the module is plain files and a spawn,
 * so its tests run on Linux with a stub target.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { AppError } from '../../shared/errors.js';
import { launch as defaultLaunch, type Launch } from './open.js';

const Id = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
export type UrlAction = 'open' | 'about' | 'dismiss';

const LaunchSchema = z.object({ cmd: z.string().min(1).max(1000), args: z.array(z.string().max(2000)).max(16) });

/** What the helper leaves for the handler when it shows a nudge. */
export const PendingNudge = z.object({
  v: z.literal(1),
  id: Id,
  /** ms since the epoch: after this the toast is gone and a click opens nothing. */
  expiresAt: z.number().int(),
  open: LaunchSchema,
  about: LaunchSchema.optional(),
});
export type PendingNudge = z.infer<typeof PendingNudge>;

export const pendingFile = (dir: string, id: string): string => join(dir, 'pending', `${id}.json`);
export const clickFile = (dir: string, id: string): string => join(dir, 'clicks', id);

export function parseNudgeUrl(url: string): { action: UrlAction; id: string } {
  const m = /^consultguard:(open|about|dismiss)\?n=([0-9a-fA-F-]{36})$/i.exec(url.trim());
  const id = m?.[2]?.toLowerCase();
  if (!m || !Id.safeParse(id).success) {
    throw new AppError('bad_option', `--handle-url: expected consultguard:open|about|dismiss?n=<nudge id>, got "${url.slice(0, 80)}"`);
  }
  return { action: m[1]!.toLowerCase() as UrlAction, id: id! };
}

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

export interface HandleResult {
  action: UrlAction;
  id: string;
  /** null: opened (or nothing to open, for dismiss); else why not. */
  problem: string | null;
}

export async function handleNudgeUrl(url: string, dir: string, deps: { launch?: (l: Launch) => Promise<string | null>; now?: () => number } = {}): Promise<HandleResult> {
  const { action, id } = parseNudgeUrl(url);
  const pending = readPending(dir, id);
  if (!pending) return { action, id, problem: 'no such nudge on this account (unknown or already cleaned up)' };
  if ((deps.now ?? Date.now)() > pending.expiresAt) return { action, id, problem: 'this nudge has expired' };
  mkdirSync(join(dir, 'clicks'), { recursive: true });
  const file = clickFile(dir, id);
  writeDurably(file, `${action}\n`);
  const target = action === 'open' ? pending.open : action === 'about' ? pending.about : undefined;
  let problem: string | null = null;
  if (target) problem = await (deps.launch ?? defaultLaunch)(target);
  else if (action === 'about') problem = 'no "why" page for this nudge';
  writeDurably(`${file}.result`, problem ? `failed: ${problem.replace(/[\r\n]+/g, ' ').slice(0, 300)}\n` : target ? 'opened\n' : 'recorded\n');
  return { action, id, problem };
}
