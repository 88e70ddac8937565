/**
 * Browsers launched into an app. A join link on the command line (`chrome.exe
 * https://meet.google.com/abc-mnop-xyz`) is joining a meeting: in-call. The app's web client
 * as the browser's app window or first tab (`--app=https://web.whatsapp.com/`) is the app
 * open: running, and in-call once that browser holds a camera or microphone (devices.ts).
 * Only browsers: an editor opening a file named after an app is neither.
 *
 * What this cannot see: a browser that was already running opens a clicked link or web app
 * in its existing process, so the URL never reaches a command line; then only media flows
 * and devices tell.
 */
import { claim, groupOf, browserOf, hitFor, note, type Scene } from './hit.js';

export function matchLaunches(scene: Scene): void {
  const any = scene.catalog.launchRe;
  if (!any) return;
  for (const proc of scene.snapshot.processes) {
    if (!proc.cmd || scene.owner.has(proc.pid) || !any.test(proc.cmd)) continue;
    const browser = browserOf(scene, proc);
    if (!browser) continue;
    for (const app of scene.catalog.apps.values()) {
      let what: string | null = null;
      if (app.joinRe?.test(proc.cmd)) what = `opened with a ${app.name} join link`;
      else {
        const web = app.webApps.find((w) => w.re.test(proc.cmd!));
        if (web) what = `running ${web.label}`;
      }
      if (!what) continue;
      const hit = hitFor(scene, app);
      if (what.startsWith('opened')) hit.browserJoin ??= proc;
      else hit.webApp ??= proc;
      claim(hit, proc);
      note(hit, `browser ${browser.name} (${proc.name}) ${what} (command line)`);
      const group = groupOf(scene, proc);
      const list = scene.launches.get(group) ?? [];
      list.push({ app, proc, what });
      scene.launches.set(group, list);
      break;
    }
  }
}
