/**
 * Turns the catalog (data) into lookup structures for the matcher: process rules by
 * (os, lowercase name), one prefix table for every app's address ranges, port sets per
 * app. Done once per policy; a poll then costs hash lookups, not scans of the catalog.
 */
import type { Catalog, CatalogApp, FlowRule, ProcessRole, ProcessRule } from '../../shared/catalog.js';
import { parsePorts } from '../../shared/catalog.js';
import type { Platform } from '../../shared/snapshot.js';
import { PrefixTable } from './prefix-table.js';
import { isPublicAddress } from './peers.js';

export interface CompiledApp {
  id: string;
  name: string;
  family: string;
  /** Whose network the ranges are, for evidence ("Meta"). */
  network: string;
  /** Any UDP to the ranges but port 443 is call media (the vendor's own network). */
  ownNetwork: boolean;
  joinRe: RegExp | null;
  webApps: Array<{ re: RegExp; label: string }>;
  media: FlowMatcher;
  signalling: FlowMatcher;
  /** Catalog position; ties between apps sharing a range go to the lowest guessRank, then order. */
  order: number;
  guessRank: number;
  processOnly: boolean;
}

export interface CompiledRule {
  app: CompiledApp;
  role: ProcessRole;
  /** Lowercase, forward-slash path fragments; null when the rule does not constrain the path. */
  pathNeedles: string[] | null;
  /** `/windowsapps/<name>_` and `__<publisher>` fragments of a Store package family name. */
  store: { prefix: string; publisher: string } | null;
  deviceCall: 'any' | 'camera' | 'none';
  label: string;
}

export interface CompiledBrowser {
  id: string;
  name: string;
}

export interface FlowMatcher {
  /** True when a flow of this protocol to this port is in the rule set. */
  (protocol: 'tcp' | 'udp', port: number): boolean;
  any: boolean;
}

export interface CompiledCatalog {
  rules: Map<string, CompiledRule[]>;
  browsers: Map<string, CompiledBrowser>;
  /** Lowercase Windows package family name -> the rules naming it (a device held "by package"). */
  packages: Map<string, CompiledRule[]>;
  /** Address prefix to the apps (one family) that publish it. */
  prefixes: PrefixTable<CompiledApp[]>;
  apps: Map<string, CompiledApp>;
  /** Every app's join and web-client patterns in one expression: a browser command line is tested once, not per app. */
  launchRe: RegExp | null;
}

export const ruleKey = (os: Platform, name: string): string => `${os}\u0000${name.toLowerCase()}`;

function flowMatcher(rules: FlowRule[]): FlowMatcher {
  const tcp: Array<[number, number]> = [];
  const udp: Array<[number, number]> = [];
  for (const r of rules) {
    const ranges = r.ports === undefined ? [[0, 65535] as [number, number]] : (parsePorts(r.ports) ?? []);
    (r.protocol === 'tcp' ? tcp : udp).push(...ranges);
  }
  const fn = ((protocol: 'tcp' | 'udp', port: number) => {
    const list = protocol === 'tcp' ? tcp : udp;
    for (const [lo, hi] of list) if (port >= lo && port <= hi) return true;
    return false;
  }) as FlowMatcher;
  fn.any = tcp.length + udp.length > 0;
  return fn;
}

export function storeParts(family: string | undefined): CompiledRule['store'] {
  if (!family) return null;
  const cut = family.lastIndexOf('_');
  if (cut <= 0) return null;
  return { prefix: `/windowsapps/${family.slice(0, cut).toLowerCase()}_`, publisher: `__${family.slice(cut + 1).toLowerCase()}` };
}

function compileApp(app: CatalogApp, order: number): CompiledApp {
  const patterns = app.joinCommandLines.map((j) => `(?:${j.pattern})`);
  return {
    id: app.id,
    name: app.name,
    family: app.network?.family ?? app.id,
    network: app.network?.owner ?? app.name,
    ownNetwork: app.network?.ownNetwork ?? false,
    joinRe: patterns.length ? new RegExp(patterns.join('|'), 'i') : null,
    webApps: app.webApps.map((w) => ({ re: new RegExp(w.pattern, 'i'), label: w.label })),
    media: flowMatcher(app.network?.media ?? []),
    signalling: flowMatcher(app.network?.signalling ?? []),
    order,
    guessRank: app.network?.guessRank ?? 100,
    processOnly: app.network?.processOnly ?? false,
  };
}

function compileRule(app: CompiledApp, rule: ProcessRule, name: string): CompiledRule {
  return {
    app,
    role: rule.role,
    pathNeedles: rule.pathContains?.map((p) => p.replaceAll('\\', '/').toLowerCase()) ?? null,
    store: storeParts(rule.storePackage),
    deviceCall: rule.deviceCall,
    label: name,
  };
}

/** Compiles the apps to watch; `exclude` (approved apps) are left out entirely. */
export function compileCatalog(catalog: Catalog, exclude: Iterable<string> = []): CompiledCatalog {
  const skip = new Set(exclude);
  const out: CompiledCatalog = { rules: new Map(), browsers: new Map(), packages: new Map(), prefixes: new PrefixTable(), apps: new Map(), launchRe: null };
  catalog.apps.forEach((raw, order) => {
    if (skip.has(raw.id)) return;
    const app = compileApp(raw, order);
    out.apps.set(app.id, app);
    for (const rule of raw.processes) {
      for (const name of rule.names) {
        const key = ruleKey(rule.os, name);
        const list = out.rules.get(key) ?? [];
        const compiled = compileRule(app, rule, name);
        list.push(compiled);
        out.rules.set(key, list);
        if (rule.storePackage) {
          const pkg = rule.storePackage.toLowerCase();
          out.packages.set(pkg, [...(out.packages.get(pkg) ?? []), compiled]);
        }
      }
    }
    for (const range of raw.network?.ranges ?? []) {
      out.prefixes.add(range.cidr, [app], (a, b) => (a.some((x) => x.id === b[0]?.id) ? a : [...a, ...b]));
    }
  });
  const launch = catalog.apps
    .filter((a) => !skip.has(a.id))
    .flatMap((a) => [...a.joinCommandLines, ...a.webApps].map((j) => `(?:${j.pattern})`));
  out.launchRe = launch.length ? new RegExp(launch.join('|'), 'i') : null;
  for (const b of catalog.browsers) for (const n of b.names) out.browsers.set(ruleKey(b.os, n), { id: b.id, name: b.name });
  return out;
}

/** The display name of a catalog app ("Zoom", "WhatsApp"), or the id itself when the catalog does not know it. */
export function appName(catalog: CompiledCatalog, id: string): string {
  return catalog.apps.get(id)?.name ?? id;
}

/** Whether a process name could matter on this OS (a catalog app or a browser): worth its details. */
export function knowsName(catalog: CompiledCatalog, os: Platform, name: string): boolean {
  const key = ruleKey(os, name);
  return catalog.rules.has(key) || catalog.browsers.has(key);
}

/**
 * Which flows a poll keeps (and looks up owners for): those to an app's published ranges,
 * and those to any public address, because a peer-to-peer call flow goes to the other
 * party's own address and counts only beside a vendor relay or STUN flow of the same
 * process (detect/peers.ts). Private, loopback and link-local flows are never kept. The
 * kept flows stay on the workstation: only detections leave it.
 */
export function flowsWorthKeeping(catalog: CompiledCatalog): (remoteAddress: string) => boolean {
  return (address) => catalog.prefixes.lookup(address) !== null || isPublicAddress(address);
}
