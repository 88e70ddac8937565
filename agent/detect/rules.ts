/**
 * How one process or flow is held against one compiled rule: shared by the process,
 * connection and device passes.
 */
import type { ProcessInfo } from '../../shared/snapshot.js';
import type { CompiledApp, CompiledRule } from './compile.js';

export function normPath(p: string): string {
  return p.replaceAll('\\', '/').toLowerCase();
}

/** Does the process fit the rule beyond its name? Returns whether its path was positively verified. */
export function fits(rule: CompiledRule, proc: Pick<ProcessInfo, 'path'>): { ok: boolean; verified: boolean } {
  if (!rule.pathNeedles && !rule.store) return { ok: true, verified: false };
  if (!proc.path) return { ok: true, verified: false }; // path unknown (e.g. Windows fastlist): trust the name
  const path = normPath(proc.path);
  if (rule.pathNeedles?.some((n) => path.includes(n))) return { ok: true, verified: true };
  if (rule.store && path.includes(rule.store.prefix) && path.includes(rule.store.publisher)) return { ok: true, verified: true };
  return { ok: false, verified: false };
}

/** True when a flow of this protocol and port to one of the app's ranges is call media. */
export function isMedia(app: CompiledApp, protocol: 'tcp' | 'udp', port: number): boolean {
  return app.media(protocol, port) || (app.ownNetwork && protocol === 'udp' && port !== 443);
}
