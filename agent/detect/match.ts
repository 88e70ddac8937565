/**
 * The matcher: snapshot + compiled catalog -> detections. Pure (no I/O, no clock), so it
 * is tested on recorded snapshots. CONTRACTS section 2 gives the output shape.
 *
 * Rules, in short:
 * - A process whose name and path fit an app's rule is that app: `main` means open
 *   (running), `call` means a call or screen share is live (in-call), `background`
 *   (updaters, daemons) never makes a detection on its own.
 * - A flow to an app's published ranges on its media ports is a live call. From the
 *   app's own process it confirms the app; from a browser or an unrecognised process it
 *   is a web client (via network). Signalling (e.g. HTTPS) from a browser is plain web
 *   browsing and is ignored; unknown-owner or non-vendor flows are ignored.
 * - Where a range is shared by several apps of a vendor, `candidates` lists them all.
 */
import type { Connection, Detection, ProcessInfo, Snapshot } from '../../shared/snapshot.js';
import { ruleKey, type CompiledApp, type CompiledCatalog, type CompiledRule } from './compile.js';

const MAX_EVIDENCE = 12;

interface Hit {
  app: CompiledApp;
  main: ProcessInfo[];
  call: ProcessInfo[];
  background: ProcessInfo[];
  joined: ProcessInfo | null;
  browserJoin: ProcessInfo | null;
  pathVerified: boolean;
  ownMedia: number;
  ownSignalling: number;
  webMedia: number;
  candidates: Set<string>;
  pids: Set<number>;
  user: string | undefined;
  evidence: string[];
}

function normPath(p: string): string {
  return p.replaceAll('\\', '/').toLowerCase();
}

/** Does the process fit the rule beyond its name? Returns whether the path was positively verified. */
function fits(rule: CompiledRule, proc: ProcessInfo): { ok: boolean; verified: boolean } {
  if (!rule.pathNeedles && !rule.store) return { ok: true, verified: false };
  if (!proc.path) return { ok: true, verified: false }; // path unknown (e.g. Windows fastlist): trust the name
  const path = normPath(proc.path);
  if (rule.pathNeedles?.some((n) => path.includes(n))) return { ok: true, verified: true };
  if (rule.store && path.includes(rule.store.prefix) && path.includes(rule.store.publisher)) return { ok: true, verified: true };
  return { ok: false, verified: false };
}

function newHit(app: CompiledApp): Hit {
  return {
    app, main: [], call: [], background: [], joined: null, browserJoin: null, pathVerified: false,
    ownMedia: 0, ownSignalling: 0, webMedia: 0, candidates: new Set([app.id]),
    pids: new Set(), user: undefined, evidence: [],
  };
}

function note(hit: Hit, line: string): void {
  if (hit.evidence.length < MAX_EVIDENCE && !hit.evidence.includes(line)) hit.evidence.push(line);
}

function endpoint(c: Connection): string {
  return c.remoteAddress.includes(':') ? `[${c.remoteAddress}]:${c.remotePort}` : `${c.remoteAddress}:${c.remotePort}`;
}

export function detect(snapshot: Snapshot, catalog: CompiledCatalog): Detection[] {
  const hits = new Map<string, Hit>();
  const hitFor = (app: CompiledApp): Hit => {
    let h = hits.get(app.id);
    if (!h) hits.set(app.id, (h = newHit(app)));
    return h;
  };
  /** pid -> app it was recognised as (any role). */
  const owner = new Map<number, CompiledApp>();
  const byPid = new Map<number, ProcessInfo>();

  for (const proc of snapshot.processes) {
    byPid.set(proc.pid, proc);
    const rules = catalog.rules.get(ruleKey(snapshot.platform, proc.name));
    if (!rules) continue;
    for (const rule of rules) {
      const fit = fits(rule, proc);
      if (!fit.ok) continue;
      const hit = hitFor(rule.app);
      owner.set(proc.pid, rule.app);
      hit[rule.role].push(proc);
      if (rule.role !== 'background') {
        hit.pathVerified ||= fit.verified;
        hit.pids.add(proc.pid);
        if (!hit.user && proc.user) hit.user = proc.user;
        const why = rule.role === 'call' ? 'call helper' : fit.verified ? `path matches ${rule.app.name} install` : `name of ${rule.app.name}`;
        note(hit, `process ${proc.name} (${why})`);
      }
      if (!hit.joined && proc.cmd && rule.app.joinRe?.test(proc.cmd)) {
        hit.joined = proc;
        note(hit, `process ${proc.name} joining a meeting (command line)`);
      }
      break; // one rule per process is enough
    }
  }

  attributeDescendants(snapshot.processes, byPid, owner);
  matchBrowserJoins(snapshot, catalog, owner, hitFor);

  for (const conn of snapshot.connections) {
    const apps = catalog.prefixes.lookup(conn.remoteAddress);
    if (!apps) continue;
    const ownerApp = conn.pid === undefined ? undefined : owner.get(conn.pid);
    if (ownerApp) {
      // The app's own process (or a sibling app of the same vendor family).
      const app = apps.find((a) => a.id === ownerApp.id) ?? (apps.some((a) => a.family === ownerApp.family) ? ownerApp : undefined);
      if (!app) continue;
      const hit = hitFor(app);
      const media = app.media(conn.protocol, conn.remotePort);
      if (media) hit.ownMedia++;
      else hit.ownSignalling++;
      if (conn.pid !== undefined) hit.pids.add(conn.pid);
      note(hit, `${conn.protocol} ${endpoint(conn)} in ${app.name} ${media ? 'media' : 'server'} range`);
      continue;
    }
    // A browser, an unrecognised process or an unknown owner: only live media counts.
    const mediaApps = apps.filter((a) => !a.processOnly && a.media.any && a.media(conn.protocol, conn.remotePort));
    if (mediaApps.length === 0) continue;
    const proc = conn.pid === undefined ? undefined : byPid.get(conn.pid);
    if (!proc) continue; // unknown owner: no way to say who holds the call
    const browser = catalog.browsers.get(ruleKey(snapshot.platform, proc.name));
    const best = pickBest(mediaApps, hits);
    const hit = hitFor(best);
    for (const a of mediaApps) hit.candidates.add(a.id);
    hit.webMedia++;
    hit.pids.add(proc.pid);
    if (!hit.user && proc.user) hit.user = proc.user;
    const who = browser ? `browser ${browser} (${proc.name})` : `process ${proc.name}`;
    note(hit, `${who} ${conn.protocol} ${endpoint(conn)} in ${best.name} media range`);
  }

  const out: Detection[] = [];
  for (const hit of [...hits.values()].sort((a, b) => a.app.order - b.app.order)) {
    const d = toDetection(hit);
    if (d) out.push(d);
  }
  return out;
}

const MAX_DEPTH = 4;

/**
 * Processes an app started (Electron and WebView2 helpers, renderers) are that app's own:
 * their flows confirm the app rather than looking like an unknown client. They never make
 * a detection by themselves.
 */
function attributeDescendants(processes: ProcessInfo[], byPid: Map<number, ProcessInfo>, owner: Map<number, CompiledApp>): void {
  if (owner.size === 0) return;
  for (const proc of processes) {
    if (owner.has(proc.pid)) continue;
    let parent = proc.ppid;
    for (let depth = 0; depth < MAX_DEPTH && parent !== undefined && parent > 1; depth++) {
      const app = owner.get(parent);
      if (app) {
        owner.set(proc.pid, app);
        break;
      }
      parent = byPid.get(parent)?.ppid;
    }
  }
}

/**
 * A browser started with an app's join link (`chrome.exe https://meet.google.com/abc-mnop-xyz`,
 * a web app launched into a meeting) is joining that meeting. Only browsers: an editor
 * opening a file named after an app is not.
 */
function matchBrowserJoins(snapshot: Snapshot, catalog: CompiledCatalog, owner: Map<number, CompiledApp>, hitFor: (app: CompiledApp) => Hit): void {
  for (const proc of snapshot.processes) {
    if (!proc.cmd || owner.has(proc.pid) || !catalog.browsers.has(ruleKey(snapshot.platform, proc.name))) continue;
    for (const app of catalog.apps.values()) {
      if (!app.joinRe?.test(proc.cmd)) continue;
      const hit = hitFor(app);
      hit.browserJoin ??= proc;
      hit.pids.add(proc.pid);
      if (!hit.user && proc.user) hit.user = proc.user;
      note(hit, `browser ${catalog.browsers.get(ruleKey(snapshot.platform, proc.name))} (${proc.name}) opened with a ${app.name} join link`);
      break;
    }
  }
}

/** Of several apps sharing a range, prefer one already seen by process, else catalog order. */
function pickBest(apps: CompiledApp[], hits: Map<string, Hit>): CompiledApp {
  const seen = apps.find((a) => {
    const h = hits.get(a.id);
    return h !== undefined && h.main.length + h.call.length > 0;
  });
  return seen ?? [...apps].sort((a, b) => a.guessRank - b.guessRank || a.order - b.order)[0]!;
}

function toDetection(hit: Hit): Detection | null {
  const hasProcess = hit.main.length + hit.call.length > 0 || hit.browserJoin !== null;
  const media = hit.ownMedia + hit.webMedia;
  // Background processes alone (updaters, daemons) are not a violation; their media flows are.
  if (!hasProcess && media === 0) return null;
  const network = media + (hasProcess ? hit.ownSignalling : 0) > 0;
  const inCall = hit.call.length > 0 || hit.joined !== null || hit.browserJoin !== null || media > 0;
  if (!hasProcess && hit.ownMedia > 0) {
    // Media from a background process of the app (e.g. a call daemon) counts as that app.
    for (const p of hit.background) hit.pids.add(p.pid);
    hit.user ??= hit.background.find((p) => p.user)?.user;
  }

  let confidence: number;
  if (hasProcess) {
    confidence = hit.pathVerified ? 0.9 : hit.main.length + hit.call.length > 0 ? 0.75 : 0.6;
    if (hit.ownMedia > 0) confidence = 0.98;
    else if (network) confidence += 0.05;
    if (hit.call.length > 0 || hit.joined) confidence += 0.03;
  } else {
    confidence = hit.ownMedia > 0 ? 0.85 : 0.8;
    if (hit.candidates.size > 1) confidence = Math.min(confidence, 1 / hit.candidates.size + 0.1);
  }
  const candidates = [...hit.candidates].sort((a, b) => (a === hit.app.id ? -1 : b === hit.app.id ? 1 : a.localeCompare(b)));
  // Key order as in CONTRACTS section 2, for people reading the output.
  return {
    app: hit.app.id,
    state: inCall ? 'in-call' : 'running',
    via: hasProcess && network ? 'process+network' : hasProcess ? 'process' : 'network',
    confidence: Math.round(Math.min(confidence, 0.99) * 100) / 100,
    pids: [...hit.pids].sort((a, b) => a - b),
    ...(hit.user ? { user: hit.user } : {}),
    candidates,
    evidence: hit.evidence,
  };
}
