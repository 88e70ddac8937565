/**
 * What the matcher gathers about one app in one snapshot (a Hit), the scene every rule
 * reads (processes by pid, who owns which process, which process groups carry a call),
 * and how a Hit becomes a detection. Pure data and arithmetic, no I/O.
 */
import type { Connection, Detection, ProcessInfo, Snapshot } from '../../shared/snapshot.js';
import { type CompiledApp, type CompiledBrowser, type CompiledCatalog, type CompiledRule } from './compile.js';

const MAX_EVIDENCE = 12;

export interface Hit {
  app: CompiledApp;
  main: ProcessInfo[];
  call: ProcessInfo[];
  background: ProcessInfo[];
  host: ProcessInfo[];
  joined: ProcessInfo | null;
  /** A shared host process (new Teams) opened with this app's join link. */
  hostJoined: boolean;
  browserJoin: ProcessInfo | null;
  /** A browser running the app's web client (`--app=https://web.whatsapp.com/`). */
  webApp: ProcessInfo | null;
  pathVerified: boolean;
  ownMedia: number;
  ownSignalling: number;
  webMedia: number;
  /** Peer-to-peer flows beside this app's relay or STUN flows. */
  peers: number;
  /** Cameras and microphones whose holder ties them to this app's call. */
  deviceCalls: number;
  /** One of those holders is the app's own process (or a call daemon of it), not a browser. */
  deviceOwn: boolean;
  candidates: Set<string>;
  pids: Set<number>;
  user: string | undefined;
  evidence: string[];
}

/** A process recognised as an app's (by its own rule, or as a descendant of one: then `rule` is the ancestor's). */
export interface Owned {
  app: CompiledApp;
  rule: CompiledRule;
}

/** A browser launched into an app: with its join link, or as the app's web client window. */
export interface Launch {
  app: CompiledApp;
  proc: ProcessInfo;
  what: string;
}

export interface Scene {
  snapshot: Snapshot;
  catalog: CompiledCatalog;
  byPid: Map<number, ProcessInfo>;
  /** pid -> the browser it is part of, looked up once per process. */
  browsers: Map<number, CompiledBrowser>;
  owner: Map<number, Owned>;
  hits: Map<string, Hit>;
  /** Process group (an app, a browser of one user, or a lone process) -> apps whose call media it carries. */
  media: Map<string, CompiledApp[]>;
  /** Browser group -> apps it was launched into. */
  launches: Map<string, Launch[]>;
}

export function newScene(snapshot: Snapshot, catalog: CompiledCatalog): Scene {
  return { snapshot, catalog, byPid: new Map(), browsers: new Map(), owner: new Map(), hits: new Map(), media: new Map(), launches: new Map() };
}

export function hitFor(scene: Scene, app: CompiledApp): Hit {
  let h = scene.hits.get(app.id);
  if (!h) {
    h = {
      app, main: [], call: [], background: [], host: [], joined: null, hostJoined: false, browserJoin: null, webApp: null,
      pathVerified: false, ownMedia: 0, ownSignalling: 0, webMedia: 0, peers: 0, deviceCalls: 0, deviceOwn: false,
      candidates: new Set([app.id]), pids: new Set(), user: undefined, evidence: [],
    };
    scene.hits.set(app.id, h);
  }
  return h;
}

/** Adds an evidence line; `first` puts it ahead of the rest (what in-call rests on must survive the cap). */
export function note(hit: Hit, line: string, first = false): void {
  if (hit.evidence.includes(line)) return;
  if (first) {
    hit.evidence.unshift(line);
    if (hit.evidence.length > MAX_EVIDENCE) hit.evidence.pop();
  } else if (hit.evidence.length < MAX_EVIDENCE) hit.evidence.push(line);
}

/** Adds a process to the detection: its pid, and its user when none is known yet. */
export function claim(hit: Hit, proc: ProcessInfo): void {
  hit.pids.add(proc.pid);
  if (!hit.user && proc.user) hit.user = proc.user;
}

export function endpoint(c: Connection): string {
  return c.remoteAddress.includes(':') ? `[${c.remoteAddress}]:${c.remotePort}` : `${c.remoteAddress}:${c.remotePort}`;
}

export function browserOf(scene: Scene, proc: ProcessInfo): CompiledBrowser | undefined {
  return scene.browsers.get(proc.pid);
}

/**
 * The group a process belongs to for "beside" rules: all of an app's processes; all processes
 * of one browser (Chromium's network service, GPU and capture processes; Safari's WebKit
 * services, which launchd starts, not Safari); otherwise the process alone. Browsers are not
 * split by user: on Windows the owner is not always known for every browser process, and a
 * clinic workstation has one clinician at a time.
 */
export function groupOf(scene: Scene, proc: ProcessInfo): string {
  const owned = scene.owner.get(proc.pid);
  if (owned) return `a\u0000${owned.app.id}`;
  const browser = browserOf(scene, proc);
  if (browser) return `b\u0000${browser.id}`;
  return `p\u0000${proc.pid}`;
}

export function addMedia(scene: Scene, group: string, app: CompiledApp): void {
  const list = scene.media.get(group);
  if (!list) scene.media.set(group, [app]);
  else if (!list.includes(app)) list.push(app);
}

export function toDetection(hit: Hit): Detection | null {
  const hasProcess = hit.main.length + hit.call.length > 0 || hit.browserJoin !== null || hit.webApp !== null || hit.hostJoined || hit.deviceOwn;
  const media = hit.ownMedia + hit.webMedia;
  // Background processes alone (updaters, daemons) are not a violation; their media flows, or a camera they hold, are.
  if (!hasProcess && media === 0 && hit.deviceCalls === 0) return null;
  const network = media + (hasProcess ? hit.ownSignalling : 0) > 0;
  const inCall = hit.call.length > 0 || hit.joined !== null || hit.browserJoin !== null || hit.hostJoined || media > 0 || hit.deviceCalls > 0;
  if (!hasProcess && hit.ownMedia > 0) {
    // Media from a background process of the app (e.g. a call daemon) counts as that app.
    for (const p of hit.background) hit.pids.add(p.pid);
    hit.user ??= hit.background.find((p) => p.user)?.user;
  }

  let confidence: number;
  if (hasProcess) {
    confidence = hit.pathVerified ? 0.9 : hit.main.length + hit.call.length > 0 || hit.deviceOwn ? 0.75 : 0.6;
    if (hit.ownMedia > 0) confidence = 0.98;
    else if (network) confidence += 0.05;
    if (hit.call.length > 0 || hit.joined) confidence += 0.03;
  } else {
    confidence = hit.ownMedia > 0 ? 0.85 : 0.8;
    if (hit.candidates.size > 1) confidence = Math.min(confidence, 1 / hit.candidates.size + 0.1);
  }
  // A camera or microphone held by the app's own process is as strong as its media flows.
  if (hit.deviceOwn) confidence = Math.max(confidence, 0.95);
  else if (hit.deviceCalls > 0 || hit.peers > 0) confidence += 0.05;
  // Ids are [a-z0-9-] (shared/catalog.ts), where code-unit order is the collation order:
  // no localeCompare, whose ICU collator costs the agent ~3 MB of resident memory.
  const candidates = [...hit.candidates].sort((a, b) => (a === hit.app.id ? -1 : b === hit.app.id ? 1 : a < b ? -1 : a > b ? 1 : 0));
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
