/**
 * A staged folder as a pkg payload: the entry list for the Bom (read once, so the Bom and
 * the archive describe the same modes, sizes and times) and the gzipped cpio (odc) archive.
 * Everything is owned by root:wheel (0:0), as `pkgbuild --ownership recommended` does.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, lstatSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { AppError } from '../../shared/errors.js';
import { missingToolHint } from '../exec.js';
import { bomOrder, type BomEntry } from './bom.js';
import { cksumBuffer, cksumFile } from './cksum.js';

/** Every path under `root` as "./..." with "." first, read from disk. */
export async function collectEntries(root: string): Promise<BomEntry[]> {
  const out: BomEntry[] = [];
  const visit = async (rel: string): Promise<void> => {
    const abs = rel === '.' ? root : join(root, rel);
    const st = lstatSync(abs);
    const base = { path: rel, mode: st.mode & 0o7777, uid: 0, gid: 0, mtime: Math.floor(st.mtimeMs / 1000) };
    if (st.isDirectory()) {
      out.push({ ...base, type: 'dir', size: 0, checksum: 0 });
      for (const name of readdirSync(abs).sort()) await visit(`${rel}/${name}`);
    } else if (st.isSymbolicLink()) {
      const target = readlinkSync(abs);
      out.push({ ...base, type: 'link', size: Buffer.byteLength(target), checksum: cksumBuffer(Buffer.from(target)), linkTarget: target });
    } else if (st.isFile()) {
      out.push({ ...base, type: 'file', size: st.size, checksum: await cksumFile(abs) });
    } else {
      throw new AppError('internal', `${abs}: only files, folders and links can go into a pkg payload`);
    }
  };
  await visit('.');
  return out;
}

/** Writes `cpio -o --format odc --owner 0:0 | gzip` of `entries` (parents before children) to `out`. */
export async function writeCpioGz(root: string, entries: BomEntry[], out: string): Promise<void> {
  const list = bomOrder(entries).map((o) => o.entry.path).join('\n');
  const cpio = spawn('cpio', ['-o', '--quiet', '--format', 'odc', '--owner', '0:0'], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  cpio.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve, reject) => {
    cpio.on('error', (err: NodeJS.ErrnoException) => reject(err.code === 'ENOENT' ? new AppError('internal', `cpio is not installed (${missingToolHint('cpio')})`) : err));
    cpio.on('close', (code) => (code === 0 ? resolve() : reject(new AppError('internal', `cpio failed (exit ${code}): ${stderr.trim()}`))));
  });
  cpio.stdin.end(`${list}\n`);
  await Promise.all([pipeline(cpio.stdout, createGzip({ level: 6 }), createWriteStream(out)), exited]);
}
