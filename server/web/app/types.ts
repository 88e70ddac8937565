/**
 * The API's JSON shapes as the dashboard reads them: types only, inferred from the zod
 * schemas in shared/api-types.ts that the server's replies are tested against. `import
 * type` / `export type` are erased by esbuild, so zod is not bundled into the dashboard.
 */
import type { SessionOptions, SessionReply, Violation } from '../../../shared/api-types.js';

export type {
  ApiAppState as AppState, AckStatus, Ack, Agent, FilterValues, Role, TimelineEntry, TimelineKind, TrendDay, Trends, Violation, ViolationDetail, RevealReply, UserKind,
} from '../../../shared/api-types.js';

export type Session = SessionReply;
export type SignInOptions = SessionOptions;
export type User = SessionReply['user'];

/** A keyset page (GET /api/violations): pass `next` back as `cursor`. */
export interface Page<T = Violation> {
  items: T[];
  next: string | null;
}
