/**
 * The matcher: snapshot + compiled catalog -> detections. Pure (no I/O, no clock), so it
 * is tested on recorded snapshots. CONTRACTS section 2 gives the output shape.
 *
 * Rules, in short:
 * - A process whose name and path fit an app's rule is that app: `main` means open
 *   (running), `call` means a call or screen share is live (in-call), `background`
 *   (updaters, daemons) and `host` (shared with software outside the catalog) never make a
 *   detection on their own. Processes an app started are the app's too; a browser never is.
 * - A flow to an app's published ranges on its media ports (or, on a vendor's own network,
 *   any UDP port but 443) is a live call. From the app's own process it confirms the app;
 *   from a browser or an unrecognised process it is a web client (via network). Signalling
 *   (e.g. HTTPS) from a browser is plain web browsing and is ignored; unknown-owner or
 *   non-vendor flows are ignored.
 * - A browser started with an app's join link is joining it (in-call); one running the
 *   app's web client (`--app=https://web.whatsapp.com/`) has it open (running).
 * - A camera or microphone (snapshot `devices`) held by an app's process means in-call; held
 *   by a browser, it is that vendor's web call only when the browser also carries the
 *   vendor's call media or runs its web client or join link (see devices.ts). Held by
 *   anything else (the approved app, work Teams, the Camera app, dictation) it is nothing.
 * - A peer-to-peer flow beside a vendor's relay flow adds to that call (see peers.ts).
 * - Where a range is shared by several apps of a vendor, `candidates` lists them all.
 */
import type { Detection, Snapshot } from '../../shared/snapshot.js';
import { ruleKey, type CompiledApp, type CompiledCatalog } from './compile.js';
import { matchDevices } from './devices.js';
import { addMedia, browserOf, claim, endpoint, groupOf, hitFor, newScene, note, toDetection, type Hit, type Scene } from './hit.js';
import { matchLaunches } from './launches.js';
import { matchPeers } from './peers.js';
import { fits, isMedia } from './rules.js';

export function detect(snapshot: Snapshot, catalog: CompiledCatalog): Detection[] {
  const scene = newScene(snapshot, catalog);
  matchProcesses(scene);
  attributeDescendants(scene);
  matchLaunches(scene);
  matchConnections(scene);
  matchPeers(scene);
  matchDevices(scene);

  const out: Detection[] = [];
  for (const hit of [...scene.hits.values()].sort((a, b) => a.app.order - b.app.order)) {
    const d = toDetection(hit);
    if (d) out.push(d);
  }
  return out;
}

function matchProcesses(scene: Scene): void {
  for (const proc of scene.snapshot.processes) {
    scene.byPid.set(proc.pid, proc);
    const key = ruleKey(scene.snapshot.platform, proc.name);
    const browser = scene.catalog.browsers.get(key);
    if (browser) scene.browsers.set(proc.pid, browser);
    const rules = scene.catalog.rules.get(key);
    if (!rules) continue;
    for (const rule of rules) {
      const fit = fits(rule, proc);
      if (!fit.ok) continue;
      const hit = hitFor(scene, rule.app);
      scene.owner.set(proc.pid, { app: rule.app, rule });
      hit[rule.role].push(proc);
      if (rule.role === 'main' || rule.role === 'call') {
        hit.pathVerified ||= fit.verified;
        claim(hit, proc);
        // A verified path is named, so a reviewer sees which install it was (per-user AppData
        // or Program Files, a Store package); cut to keep the line inside the wire's 512 chars.
        const why = rule.role === 'call' ? 'call helper' : fit.verified ? `path ${clip(proc.path ?? '')} matches ${rule.app.name} install` : `name of ${rule.app.name}`;
        note(hit, `process ${proc.name} (${why})`);
      }
      if (!hit.joined && !hit.hostJoined && proc.cmd && rule.app.joinRe?.test(proc.cmd)) {
        if (rule.role === 'host') {
          // A shared host (new Teams) counts only when its own command line names this app's meeting.
          hit.hostJoined = true;
          claim(hit, proc);
        } else hit.joined = proc;
        note(hit, `process ${proc.name} joining a ${rule.app.name} meeting (command line)`);
      }
      break; // one rule per process is enough
    }
  }
}

const MAX_PATH_IN_EVIDENCE = 300;
const clip = (path: string): string => (path.length > MAX_PATH_IN_EVIDENCE ? `...${path.slice(-(MAX_PATH_IN_EVIDENCE - 3))}` : path);

const MAX_DEPTH = 4;

/**
 * Processes an app started (Electron and WebView2 helpers, renderers) are that app's own:
 * their flows and devices confirm the app rather than looking like an unknown client. They
 * never make a detection by themselves. A browser is never an app's by ancestry: a link
 * clicked in Zoom starts the browser as Zoom's child, and what that browser then does (the
 * approved app's consult, say) is not Zoom's.
 */
function attributeDescendants(scene: Scene): void {
  const { owner, byPid } = scene;
  if (owner.size === 0) return;
  for (const proc of scene.snapshot.processes) {
    if (owner.has(proc.pid) || browserOf(scene, proc)) continue;
    let parent = proc.ppid;
    for (let depth = 0; depth < MAX_DEPTH && parent !== undefined && parent > 1; depth++) {
      const owned = owner.get(parent);
      if (owned) {
        owner.set(proc.pid, owned);
        break;
      }
      const up = byPid.get(parent);
      if (!up || browserOf(scene, up)) break;
      parent = up.ppid;
    }
  }
}

function matchConnections(scene: Scene): void {
  const { catalog, owner, byPid } = scene;
  for (const conn of scene.snapshot.connections) {
    const apps = catalog.prefixes.lookup(conn.remoteAddress);
    if (!apps) continue;
    const owned = conn.pid === undefined ? undefined : owner.get(conn.pid);
    if (owned) {
      // A shared host's flows could be either account's (work Teams and Teams free use one process).
      if (owned.rule.role === 'host') continue;
      // The app's own process (or a sibling app of the same vendor family).
      const ownerApp = owned.app;
      const app = apps.find((a) => a.id === ownerApp.id) ?? (apps.some((a) => a.family === ownerApp.family) ? ownerApp : undefined);
      if (!app) continue;
      const hit = hitFor(scene, app);
      const media = isMedia(app, conn.protocol, conn.remotePort);
      if (media) {
        hit.ownMedia++;
        addMedia(scene, `a\u0000${ownerApp.id}`, app);
      } else hit.ownSignalling++;
      if (conn.pid !== undefined) hit.pids.add(conn.pid);
      note(hit, `${conn.protocol} ${endpoint(conn)} in ${app.name} ${media ? 'media' : 'server'} range`);
      continue;
    }
    // A browser, an unrecognised process or an unknown owner: only live media counts.
    const mediaApps = apps.filter((a) => !a.processOnly && isMedia(a, conn.protocol, conn.remotePort));
    if (mediaApps.length === 0) continue;
    const proc = conn.pid === undefined ? undefined : byPid.get(conn.pid);
    if (!proc) continue; // unknown owner: no way to say who holds the call
    const browser = browserOf(scene, proc);
    const best = pickBest(mediaApps, scene.hits);
    const hit = hitFor(scene, best);
    for (const a of mediaApps) hit.candidates.add(a.id);
    hit.webMedia++;
    claim(hit, proc);
    addMedia(scene, groupOf(scene, proc), best);
    const who = browser ? `browser ${browser.name} (${proc.name})` : `process ${proc.name}`;
    const where = best.media(conn.protocol, conn.remotePort) ? `${best.name} media range` : `${best.network}'s network (UDP, not 443: call media)`;
    note(hit, `${who} ${conn.protocol} ${endpoint(conn)} in ${where}`);
  }
}

/** Of several apps sharing a range, prefer one already seen by process, else the lowest guessRank, else catalog order. */
function pickBest(apps: CompiledApp[], hits: Map<string, Hit>): CompiledApp {
  const seen = apps.find((a) => {
    const h = hits.get(a.id);
    return h !== undefined && (h.main.length + h.call.length > 0 || h.webApp !== null || h.browserJoin !== null);
  });
  return seen ?? [...apps].sort((a, b) => a.guessRank - b.guessRank || a.order - b.order)[0]!;
}
