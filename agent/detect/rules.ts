/**
 * How one process or flow is held against one compiled rule: shared by the process,
 * connection and device passes.
 */
import type { ProcessInfo } from '../../shared/snapshot.js';
import type { CompiledApp, CompiledRule } from './compile.js';

export function normPath(p: string): string {
  return p.replaceAll('\\', '/').toLowerCase();
}

/** Does the process fit the rule beyond its name? Returns whether it was positively verified (path or command line). */
export function fits(rule: CompiledRule, proc: Pick<ProcessInfo, 'path' | 'cmd'>): { ok: boolean; verified: boolean } {
  let verified = false;
  if (rule.cmdAll) {
    const cmd = proc.cmd?.toLowerCase();
    if (!cmd || !rule.cmdAll.every((c) => cmd.includes(c))) return { ok: false, verified: false };
    verified = true;
  }
  if (!rule.pathNeedles && !rule.store) return { ok: true, verified };
  if (!proc.path) return { ok: true, verified }; // path unknown (e.g. Windows fastlist): trust the name
  const path = normPath(proc.path);
  if (rule.pathNeedles?.some((n) => path.includes(n))) return { ok: true, verified: true };
  if (rule.store && path.includes(rule.store.prefix) && path.includes(rule.store.publisher)) return { ok: true, verified: true };
  return { ok: false, verified: false };
}

/** True when a flow of this protocol and port to one of the app's ranges is call media. */
export function isMedia(app: CompiledApp, protocol: 'tcp' | 'udp', port: number): boolean {
  return app.media(protocol, port) || (app.ownNetwork && protocol === 'udp' && port !== 443);
}
