/**
 * The poll loop, run only inside consult hours: collect (processes and the connections
 * that matter) -> detect (pure) -> hand the detections on. A failing or hanging poll is
 * counted and logged once per streak, and the loop goes on at the next interval.
 */
import type { Logger } from '../shared/log.js';
import type { Detection, Platform } from '../shared/snapshot.js';
import { takeSnapshot, type Collectors } from './collect/snapshot.js';
import { detect, flowsWorthKeeping, knowsName } from './detect/index.js';
import type { Health } from './health.js';
import type { PolicyInForce } from './policy.js';

export interface PollerOptions {
  collectors: Collectors;
  policy: PolicyInForce;
  now: () => Date;
  collectTimeoutMs: number;
  health: Health;
  log: Logger;
  onDetections: (detections: Detection[]) => void;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms))),
  ]);
}

export function createPoller(opts: PollerOptions) {
  let timer: NodeJS.Timeout | undefined;
  let active = false;

  async function poll(): Promise<void> {
    const catalog = opts.policy.compiled();
    if (!catalog || !active) return;
    const started = performance.now();
    try {
      // Only flows detection can use are kept (vendor ranges, and public peers that may
      // belong to a vendor call): least data, and no owner lookup when there are none.
      const interesting = flowsWorthKeeping(catalog);
      const wanted = (name: string) => knowsName(catalog, process.platform as Platform, name);
      const snapshot = await withTimeout(takeSnapshot(opts.collectors, opts.now(), interesting, wanted), opts.collectTimeoutMs, 'collecting processes and connections');
      if (!active) return; // hours ended (or the agent stopped) while collecting
      opts.onDetections(detect(snapshot, catalog));
      opts.health.ok('poll');
    } catch (err) {
      opts.health.failed('collect', 'poll', err, 'retrying at the next interval');
    } finally {
      opts.health.pollDone(performance.now() - started);
    }
  }

  function loop(): void {
    if (!active) return;
    void poll().finally(() => {
      if (active) timer = setTimeout(loop, (opts.policy.current()?.agent.pollSeconds ?? 5) * 1000);
    });
  }

  return {
    start(): void {
      active = true;
      loop();
    },
    stop(): void {
      active = false;
      clearTimeout(timer);
    },
  };
}
