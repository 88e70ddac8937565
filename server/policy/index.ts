/**
 * The server's policies: loaded from the policies folder at start (a bad file there stops
 * the server with the error), reloaded when a file changes. A bad edit keeps the last
 * good set in force; its error shows in /healthz and the log until it is fixed.
 *
 * The watcher itself can fail: the folder is deleted or replaced (a config-management
 * run swapping it), the OS runs out of watches (Linux inotify limit, ENOSPC), or a network
 * share drops. Each is logged once per streak and shown in /healthz and /metrics; the
 * service then re-arms with capped back-off until the folder is back, reloads it, and
 * watches the new folder. fs.watch is inotify on Linux, FSEvents on macOS and
 * ReadDirectoryChangesW on Windows. A deleted folder ends its watch on all three (Linux and
 * macOS send a last "rename" event, Windows an EPERM error); a folder moved away sends
 * nothing at all on Windows, and a replacement under the same name is never watched by
 * the old watch anywhere. So the folder's identity (device + inode; the file index on
 * Windows) is rechecked on every reload and every /healthz. Shown here on Linux; the
 * Windows and macOS paths are the same code reached through Node's documented events.
 */
import { statSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { describe } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { EffectivePolicy } from '../../shared/policy.js';
import { loadPolicies, policyFor, type PolicySet } from '../../shared/policy-load.js';
import { createBackoff, createStreak, type StreakStatus } from '../health/streak.js';

export interface PolicyServiceOptions {
  /** Re-arm back-off while the folder cannot be watched (ms). */
  retry?: { initialMs: number; maxMs: number };
  /** Quiet time after the last change before reloading (ms). */
  debounceMs?: number;
}

export interface PolicyStatus {
  policies: Array<{ name: string; version: string }>;
  /** The pending bad edit (last good policies in force), or null. */
  error: string | null;
  watch: StreakStatus;
}

function identity(dir: string): string | null {
  try {
    const st = statSync(dir);
    return st.isDirectory() ? `${st.dev}:${st.ino}` : null;
  } catch {
    return null;
  }
}

export function createPolicyService(dir: string, log: Logger, opts: PolicyServiceOptions = {}) {
  let current: PolicySet = loadPolicies(dir);
  let lastError: string | null = null;
  let watchers: FSWatcher[] = [];
  let watching: string | null = null; // identity of the folder being watched
  let timer: NodeJS.Timeout | undefined;
  let rearmTimer: NodeJS.Timeout | undefined;
  let active = false;
  const watchStreak = createStreak(log, `policy folder watch (${dir})`);
  const backoff = createBackoff(opts.retry?.initialMs ?? 1000, opts.retry?.maxMs ?? 30_000);
  const listeners: Array<() => void> = [];
  const errorListeners: Array<() => void> = [];

  /** A folder deleted, or replaced under the same name, leaves the watch on the old one: re-watch. */
  function checkFolder(): void {
    if (!active || watching === null) return;
    const now = identity(dir);
    if (now === watching) return;
    const code = now === null ? 'ENOENT' : 'EREPLACED';
    watchFailed(Object.assign(new Error(`policies folder ${now === null ? 'deleted' : 'replaced'}`), { code }), 'folder-changed');
  }

  function reload(): boolean {
    checkFolder();
    try {
      const next = loadPolicies(dir);
      const changed = JSON.stringify(next.policies.map((p) => p.effective.version)) !== JSON.stringify(current.policies.map((p) => p.effective.version));
      current = next;
      if (lastError) log.info('policy error fixed; new policies in force');
      lastError = null;
      if (changed) {
        log.info({ policies: next.policies.map((p) => `${p.effective.name}@${p.effective.version}`) }, 'policies reloaded');
        for (const l of listeners) l();
      }
      return true;
    } catch (err) {
      const message = describe(err);
      if (message !== lastError) log.error({ code: 'bad_policy' }, `policy not reloaded, last good policy stays in force: ${message}`);
      for (const l of errorListeners) l();
      lastError = message;
      return false;
    }
  }

  function schedule(): void {
    clearTimeout(timer);
    timer = setTimeout(reload, opts.debounceMs ?? 300);
  }

  function unwatch(): void {
    for (const w of watchers) w.close();
    watchers = [];
    watching = null;
  }

  /** Watches the folder and its catalog/ (optional); throws if the folder cannot be watched. */
  function arm(): void {
    const id = identity(dir);
    if (id === null) throw Object.assign(new Error('policies folder missing'), { code: 'ENOENT' });
    const w = watch(dir, schedule);
    w.on('error', (err) => watchFailed(err, 'watch-error'));
    watchers.push(w);
    try {
      const c = watch(join(dir, 'catalog'), schedule);
      c.on('error', (err) => watchFailed(err, 'watch-error'));
      watchers.push(c);
    } catch {
      // catalog/ is optional; a folder created later is seen through the parent's events
    }
    watching = id;
    watchStreak.ok();
  }

  function watchFailed(err: unknown, reason: string): void {
    if (!active) return;
    unwatch();
    watchStreak.fail(err, { reason, dir });
    clearTimeout(rearmTimer);
    rearmTimer = setTimeout(rearm, backoff.next());
    rearmTimer.unref();
  }

  function rearm(): void {
    if (!active) return;
    try {
      arm();
      backoff.reset();
      // Changes made while nobody watched: load them now.
      reload();
    } catch (err) {
      watchFailed(err, 'rearm');
    }
  }

  return {
    current: (): PolicySet => current,
    policyFor: (agent: { site?: string | null; group?: string | null }): EffectivePolicy => policyFor(current, agent).effective,
    lastError: (): string | null => lastError,
    reload,
    onChange(fn: () => void): void {
      listeners.push(fn);
    },
    onError(fn: () => void): void {
      errorListeners.push(fn);
    },
    status: (): PolicyStatus => {
      checkFolder(); // truthful at the moment of asking, even if no event arrived
      return {
      policies: current.policies.map((p) => ({ name: p.effective.name, version: p.effective.version })),
      error: lastError,
      watch: watchStreak.status(),
      };
    },
    /** Watches the folder (and its catalog/) and reloads shortly after the last change. */
    watch(): void {
      active = true;
      try {
        arm();
      } catch (err) {
        watchFailed(err, 'watch-start');
      }
    },
    close(): void {
      active = false;
      clearTimeout(timer);
      clearTimeout(rearmTimer);
      unwatch();
    },
  };
}

export type PolicyService = ReturnType<typeof createPolicyService>;
