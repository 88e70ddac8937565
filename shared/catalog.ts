/**
 * The app catalog: what identifies each consumer app, as reviewed data
 * (`policies/catalog/*.yaml`). Every fact names a source; the matcher compiles this
 * into lookup structures once per policy, never per poll.
 */
import * as z from 'zod';
import { Platform } from './snapshot.js';

export const AppId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'expected a lowercase id of letters, digits and dashes');

const SourceKey = z.string().min(1);

/** A regular expression as text, checked at load so a typo names its field instead of failing at match time. */
const RegexText = z.string().min(1).refine((s) => {
  try {
    new RegExp(s, 'i');
    return true;
  } catch {
    return false;
  }
}, { message: 'expected a valid regular expression' });

export const Source = z.object({
  url: z.string().url(),
  title: z.string().optional(),
  checked: z.union([z.string(), z.date()]).transform((v) => (typeof v === 'string' ? v : v.toISOString().slice(0, 10))),
});

/**
 * `main`: the app is open. `call`: a call or screen share is live. `background`: updaters and daemons, never a
 * detection alone. `host`: a process the app shares with software outside the catalog (the new Microsoft Teams
 * runs work and personal accounts in one ms-teams.exe): never a detection alone, and a camera it holds is not
 * counted as this app's call; only a join link of the app on its command line counts.
 */
export const ProcessRole = z.enum(['main', 'call', 'background', 'host']);
export type ProcessRole = z.infer<typeof ProcessRole>;

export const ProcessRule = z.object({
  os: Platform,
  role: ProcessRole.default('main'),
  names: z.array(z.string().min(1)).min(1),
  pathContains: z.array(z.string().min(1)).optional(),
  bundleId: z.string().optional(),
  storePackage: z.string().optional(),
  /**
   * Which capture devices held by this process mean a call: `any` (default), `camera` (the microphone alone is
   * ambiguous, e.g. avconferenced also carries iPhone phone calls relayed through a Mac), or `none`.
   */
  deviceCall: z.enum(['any', 'camera', 'none']).default('any'),
  source: SourceKey.optional(),
});
export type ProcessRule = z.infer<typeof ProcessRule>;

/** "443", "3478-3481,8801": validated here so a typo is caught at load, not at match time. */
export const PortSpec = z
  .union([z.string(), z.number().int()])
  .transform((v) => String(v))
  .refine((s) => parsePorts(s) !== null, { message: 'expected ports like "443" or "3478-3481,8801"' });

export const FlowRule = z.object({
  protocol: z.enum(['tcp', 'udp']),
  ports: PortSpec.optional(),
  source: SourceKey.optional(),
});
export type FlowRule = z.infer<typeof FlowRule>;

export const RangeRule = z.object({ cidr: z.string().min(3), source: SourceKey.optional() });

export const CatalogApp = z.object({
  id: AppId,
  name: z.string().min(1),
  vendor: z.string().optional(),
  notes: z.string().optional(),
  sources: z.record(z.string(), Source).default({}),
  processes: z.array(ProcessRule).default([]),
  joinCommandLines: z.array(z.object({ pattern: z.string().min(1), source: SourceKey.optional() })).default([]),
  /**
   * The app's web client on a browser's command line (`--app=https://web.whatsapp.com/`, a tab opened on it): the
   * app is open in that browser (running); a camera or microphone held by that browser then makes it in-call.
   */
  webApps: z
    .array(z.object({ pattern: RegexText, label: z.string().min(1), source: SourceKey.optional() }))
    .default([]),
  network: z
    .object({
      family: z.string().optional(),
      /** Whose network the ranges are, for evidence ("talks to Meta's network"); defaults to the app name. */
      owner: z.string().optional(),
      /**
       * The ranges are the vendor's own network (not a shared cloud or CDN): any UDP flow to them except port 443
       * (QUIC, i.e. plain web traffic) is call media, whatever the port.
       */
      ownNetwork: z.boolean().default(false),
      /** When a flow fits several apps of one family, the lowest rank is the best guess (default 100). */
      guessRank: z.number().int().min(0).max(1000).optional(),
      /**
       * The ranges are shared with software outside the catalog (Skype's with Microsoft Teams):
       * only the app's own processes' flows count, never a browser's or an unknown process's.
       */
      processOnly: z.boolean().default(false),
      ranges: z.array(RangeRule).default([]),
      media: z.array(FlowRule).default([]),
      signalling: z.array(FlowRule).default([]),
    })
    .optional(),
});
export type CatalogApp = z.infer<typeof CatalogApp>;

export const Browser = z.object({
  id: z.string(),
  name: z.string(),
  os: Platform,
  names: z.array(z.string().min(1)).min(1),
  source: SourceKey.optional(),
});
export type Browser = z.infer<typeof Browser>;

export const BrowserFile = z.object({
  sources: z.record(z.string(), Source).default({}),
  browsers: z.array(Browser),
});

export const Catalog = z.object({
  apps: z.array(CatalogApp),
  browsers: z.array(Browser).default([]),
});
export type Catalog = z.infer<typeof Catalog>;

/** Parses "443,3478-3481" into inclusive ranges; null when malformed. */
export function parsePorts(spec: string): Array<[number, number]> | null {
  const out: Array<[number, number]> = [];
  for (const part of spec.split(',')) {
    const m = /^\s*(\d{1,5})(?:\s*-\s*(\d{1,5}))?\s*$/.exec(part);
    if (!m) return null;
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (lo > hi || hi > 65535) return null;
    out.push([lo, hi]);
  }
  return out;
}
