/** The API's JSON shapes as the dashboard reads them (the server's zod schemas are the source of truth). */
export type { ApiAppState as AppState, AckStatus } from '../../../shared/api-types.js';
export type Role = 'lead' | 'admin';

export interface User {
  name: string;
  role: Role;
}

export interface Session {
  user: User;
  csrfToken: string;
}

export type { Ack, Violation, TimelineKind, TimelineEntry } from '../../../shared/api-types.js';
import type { TimelineEntry, Violation } from '../../../shared/api-types.js';

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
