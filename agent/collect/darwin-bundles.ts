/**
 * macOS bundle ids (CFBundleIdentifier) of running apps, so the catalog's `bundleId` can be
 * matched and not only a name: a renamed or relocated app (~/Applications, a second copy)
 * keeps its bundle id. The bundle is the innermost `X.app` holding the executable in
 * `Contents/MacOS/` (Zoom's CptHost.app inside zoom.us.app is `us.zoom.CptHost`). Its
 * `Contents/Info.plist` is read directly when it is XML; a binary plist is asked of
 * `/usr/bin/plutil -extract CFBundleIdentifier raw`. A bundle's id does not change while it
 * is installed, so each bundle is looked up once per agent run.
 */
import { readFileSync } from 'node:fs';
import type { DarwinRunner } from './darwin-run.js';

const APP_EXE = /^(.*?\.app)\/Contents\/MacOS\/[^/]+$/;

/** The innermost .app bundle directly holding this executable, or null (a daemon, a CLI tool). */
export function bundleOf(path: string): string | null {
  // Lazy match: only the .app whose Contents/MacOS holds the file fits, i.e. the innermost one.
  return APP_EXE.exec(path)?.[1] ?? null;
}

const XML_ID = /<key>CFBundleIdentifier<\/key>\s*<string>([^<]+)<\/string>/;

export function bundleIdFromXml(text: string): string | null {
  return XML_ID.exec(text)?.[1]?.trim() || null;
}

export function createBundleIds(run: DarwinRunner, readFile: (path: string) => Buffer = (p) => readFileSync(p)) {
  const cache = new Map<string, string | null>();
  return async function bundleId(bundle: string): Promise<string | null> {
    if (cache.has(bundle)) return cache.get(bundle)!;
    const plist = `${bundle}/Contents/Info.plist`;
    let id: string | null = null;
    try {
      const bytes = readFile(plist);
      if (bytes.subarray(0, 8).toString('latin1') === 'bplist00') {
        id = (await run('/usr/bin/plutil', ['-extract', 'CFBundleIdentifier', 'raw', '-o', '-', plist])).trim() || null;
      } else {
        id = bundleIdFromXml(bytes.toString('utf8'));
      }
    } catch {
      // unreadable or no such key: the bundle has no id we can report
    }
    cache.set(bundle, id);
    return id;
  };
}
