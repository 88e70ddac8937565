/**
 * Turns each poll's detections into violation events: `started` when an app is first
 * seen, `updated` when its state changes or it gains evidence of another kind, `ended`
 * when it has been missing for `endAfterMissedPolls` polls in a row (one missed poll does
 * not end it) or when consult hours end. The open violations are plain data, saved by
 * the caller, so a restart resumes them instead of opening duplicates.
 */
import { randomUUID } from 'node:crypto';
import type { Event } from '../shared/protocol.js';
import type { OpenViolation } from '../shared/agent-state.js';
import { mergeVia, type Detection } from '../shared/snapshot.js';

export type { OpenViolation } from '../shared/agent-state.js';

export interface LifecycleOptions {
  endAfterMissedPolls: number;
  open?: OpenViolation[];
  newId?: () => string;
}

export function createLifecycle(opts: LifecycleOptions) {
  const newId = opts.newId ?? randomUUID;
  const open = new Map<string, OpenViolation>((opts.open ?? []).map((v) => [v.app, { ...v }]));
  let endAfter = opts.endAfterMissedPolls;

  function event(v: OpenViolation, kind: Event['kind'], at: Date, evidence: string[]): Event {
    const e: Event = { id: newId(), violationId: v.violationId, kind, app: v.app, state: v.state, via: v.via, pids: v.pids, evidence, at: at.toISOString() };
    if (v.user) e.user = v.user;
    return e;
  }

  return {
    /** Feeds one poll's detections; returns the events it causes (possibly none). */
    observe(detections: Detection[], at: Date): Event[] {
      const out: Event[] = [];
      const seen = new Set<string>();
      for (const d of detections) {
        seen.add(d.app);
        const v = open.get(d.app);
        if (!v) {
          const nv: OpenViolation = { violationId: newId(), app: d.app, state: d.state, via: d.via, pids: d.pids, startedAt: at.toISOString(), missed: 0 };
          if (d.user) nv.user = d.user;
          open.set(d.app, nv);
          out.push(event(nv, 'started', at, d.evidence));
          continue;
        }
        v.missed = 0;
        v.pids = d.pids;
        if (!v.user && d.user) v.user = d.user;
        const via = mergeVia(v.via, d.via);
        if (d.state !== v.state || via !== v.via) {
          v.state = d.state;
          v.via = via;
          out.push(event(v, 'updated', at, d.evidence));
        }
      }
      for (const v of [...open.values()]) {
        if (seen.has(v.app)) continue;
        v.missed++;
        if (v.missed >= endAfter) {
          open.delete(v.app);
          out.push(event(v, 'ended', at, [`${v.app} no longer seen for ${v.missed} poll(s)`]));
        }
      }
      return out;
    },
    /** Ends every open violation (consult hours are over, or monitoring was turned off). */
    endAll(at: Date, reason: string): Event[] {
      const out = [...open.values()].map((v) => event(v, 'ended', at, [reason]));
      open.clear();
      return out;
    },
    /**
     * Re-applies events that reached the outbox after the open violations were last saved
     * (a crash between the two writes), so a restart neither loses nor duplicates them.
     */
    replay(events: Event[]): void {
      for (const e of events) {
        if (e.kind === 'ended') {
          if (open.get(e.app)?.violationId === e.violationId) open.delete(e.app);
          continue;
        }
        const v: OpenViolation = { violationId: e.violationId, app: e.app, state: e.state, via: e.via, pids: e.pids, startedAt: e.at, missed: 0 };
        if (e.user) v.user = e.user;
        const prev = open.get(e.app);
        open.set(e.app, prev && prev.violationId === e.violationId ? { ...prev, state: e.state, via: e.via } : v);
      }
    },
    setEndAfter(n: number): void {
      endAfter = n;
    },
    open: (): OpenViolation[] => [...open.values()].map((v) => ({ ...v })),
  };
}

export type Lifecycle = ReturnType<typeof createLifecycle>;
