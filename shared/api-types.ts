/**
 * The HTTP API's JSON shapes (CONTRACTS section 4 plus additions). Plain types with no
 * imports, so the server and the dashboard (browser) share one definition.
 */
export type ApiAppState = 'running' | 'in-call';
export type AckStatus = 'acknowledged' | 'resolved';

export interface Ack {
  status: AckStatus;
  by: string;
  at: string;
  note: string;
}

export interface Violation {
  id: string;
  agentId: string;
  hostname: string;
  site: string | null;
  user: string | null;
  app: string;
  state: ApiAppState;
  via: 'process' | 'network' | 'process+network';
  startedAt: string;
  endedAt: string | null;
  durationSec: number;
  evidence: string[];
  /** Whether the clinician was shown a nudge for it, and opened the approved app from it. */
  nudged: boolean;
  nudgeClicked: boolean;
  ack: Ack | null;
}

export type TimelineKind =
  | 'started' | 'updated' | 'ended'
  | 'nudge-shown' | 'nudge-clicked' | 'nudge-dismissed' | 'nudge-suppressed' | 'app-closed' | 'nudge-failed'
  | 'acknowledged' | 'resolved';

export interface TimelineEntry {
  at: string;
  kind: TimelineKind;
  state?: ApiAppState;
  evidence?: string[];
  by?: string;
  note?: string;
}
