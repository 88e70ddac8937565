/** Runs a notifier command and turns its output and exit into events, ending with exactly one final event. */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { NotifierCommand, NotifyEvent } from './types.js';

/** The first executable called `name` on PATH (or among `extra` folders), else null. */
export function which(name: string, extra: string[] = [], env: NodeJS.ProcessEnv = process.env): string | null {
  const exts = process.platform === 'win32' ? ['', ...(env.PATHEXT ?? '.EXE;.CMD').split(';')] : [''];
  for (const dir of [...(env.PATH ?? '').split(delimiter), ...extra]) {
    if (!dir) continue;
    for (const ext of exts) {
      const file = join(dir, name + ext);
      try {
        accessSync(file, constants.X_OK);
        return file;
      } catch {
        // keep looking
      }
    }
  }
  return null;
}

/** Resolves after the final event (action, closed or failed) has been passed to `onEvent`. */
export function runNotifier(command: NotifierCommand, onEvent: (e: NotifyEvent) => void, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    let final = false;
    let shown = false;
    const emit = (e: NotifyEvent) => {
      if (final) return;
      if (e.kind === 'shown') {
        if (shown) return;
        shown = true;
      } else {
        final = true;
      }
      onEvent(e);
      if (final) {
        try {
          command.done?.();
        } finally {
          resolve();
        }
      }
    };
    const child = spawn(command.cmd, command.args, { stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
    // The notification outlived its timeout plus slack: the daemon never answered.
    const timer = setTimeout(() => {
      child.kill();
      emit({ kind: 'closed', detail: 'expired (no answer from the notification service)' });
    }, timeoutMs);
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      let nl: number;
      while ((nl = out.indexOf('\n')) >= 0) {
        const event = command.parse(out.slice(0, nl));
        out = out.slice(nl + 1);
        if (event) {
          // Some notifiers print only the answer: it implies the notification was shown.
          if (event.kind === 'action' && !shown) emit({ kind: 'shown' });
          emit(event);
        }
      }
    });
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-400)));
    child.once('spawn', () => {
      if (command.shownOnSpawn) emit({ kind: 'shown' });
    });
    child.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      emit({ kind: 'failed', detail: e.code === 'ENOENT' ? `${command.cmd} is not installed` : `${command.cmd}: ${e.message}` });
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      if (out.trim()) {
        const event = command.parse(out);
        if (event) emit(event);
      }
      if (code === 0) emit({ kind: 'closed', detail: 'closed without choosing' });
      else emit({ kind: 'failed', detail: `${command.cmd} exited with status ${code}${err.trim() ? `: ${err.trim()}` : ''}` });
    });
  });
}
