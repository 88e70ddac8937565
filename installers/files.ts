/** Small file helpers shared by the three installer builders. */
import { chmodSync, copyFileSync, lstatSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Text for an XML attribute or element body. */
export function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** Copies a folder tree (files and folders only; the staged app has no links). */
export function copyTree(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const name of readdirSync(from)) {
    const src = join(from, name);
    const dst = join(to, name);
    if (lstatSync(src).isDirectory()) copyTree(src, dst);
    else copyFileSync(src, dst);
  }
}

export function writeFile(path: string, text: string | Buffer, mode = 0o644): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  chmodSync(path, mode); // explicit: the build user's umask must not decide what ships
}

export function copyFile(from: string, to: string, mode = 0o644): void {
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(from, to);
  chmodSync(to, mode);
}

/**
 * Sets every folder to 0755 and every file to 0644 (0755 where `executable` says so), so
 * the modes in a package come from this code, not from the checkout.
 */
export function normaliseModes(root: string, executable: (rel: string) => boolean, rel = ''): void {
  const path = join(root, rel);
  const st = lstatSync(path);
  if (st.isDirectory()) {
    chmodSync(path, 0o755);
    for (const name of readdirSync(path)) normaliseModes(root, executable, rel ? `${rel}/${name}` : name);
  } else if (st.isFile()) {
    chmodSync(path, executable(rel) ? 0o755 : 0o644);
  }
}

/** The agent config the installers bake in: only the settings that were given. */
export function agentConfigJson(settings: { serverUrl?: string; enrollSecret?: string; site?: string }): string {
  const c: Record<string, string> = {};
  if (settings.serverUrl) c.serverUrl = settings.serverUrl;
  if (settings.enrollSecret) c.enrollSecret = settings.enrollSecret;
  if (settings.site) c.site = settings.site;
  return `${JSON.stringify(c, null, 2)}\n`;
}
