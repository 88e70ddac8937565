/** The API's JSON shapes as the dashboard reads them (the server's zod schemas are the source of truth). */
export type AppState = 'running' | 'in-call';
export type AckStatus = 'acknowledged' | 'resolved';
export type Role = 'lead' | 'admin';

export interface User {
  name: string;
  role: Role;
}

export interface Session {
  user: User;
  csrfToken: string;
}

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
  state: AppState;
  via: string;
  startedAt: string;
  endedAt: string | null;
  durationSec: number;
  evidence: string[];
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
  state?: AppState;
  evidence?: string[];
  by?: string;
  note?: string;
}

export interface ViolationDetail {
  violation: Violation;
  timeline: TimelineEntry[];
}

export interface Page<T> {
  items: T[];
  next: string | null;
}

export interface Agent {
  agentId: string;
  hostname: string;
  platform: string;
  site: string | null;
  group: string | null;
  agentVersion: string | null;
  policyVersion: string | null;
  online: boolean;
  lastSeen: string | null;
  monitoring: boolean | null;
  silent: boolean;
  revoked: boolean;
  health: Record<string, unknown> | null;
}

export interface TrendDay {
  day: string;
  byApp: Record<string, number>;
  inCallMinutes: number;
}

export interface Trends {
  days: TrendDay[];
  topSites: Array<{ site: string | null; count: number }>;
  topWorkstations: Array<{ hostname: string; count: number }>;
  nudges: { violations: number; shown: number; clicked: number };
}

export interface FilterValues {
  apps: string[];
  sites: string[];
  hostnames: string[];
  users: string[];
}
