/** The Bom writer and reader, and the POSIX cksum they record, on their own. */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeBom, type BomEntry } from '../../installers/macos/bom.js';
import { readBom } from '../../installers/macos/bom-read.js';
import { cksumBuffer, cksumFile } from '../../installers/macos/cksum.js';
import { collectEntries } from '../../installers/macos/payload.js';
import { tempDir } from '../support/server.js';

const dir = tempDir('cg-bom-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const dirEntry = (path: string): BomEntry => ({ path, type: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: 1_700_000_000, size: 0, checksum: 0 });
const fileEntry = (path: string, size: number): BomEntry => ({ path, type: 'file', mode: 0o644, uid: 0, gid: 80, mtime: 1_700_000_001, size, checksum: size * 7919 });

describe('cksum', () => {
  it('matches the system cksum, including the length folded in', async () => {
    const samples = { empty: Buffer.alloc(0), short: Buffer.from('a'), text: Buffer.from('ConsultGuard\n'), big: Buffer.alloc(300_000, 0xa5) };
    for (const [name, data] of Object.entries(samples)) {
      const file = join(dir, `cksum-${name}`);
      writeFileSync(file, data);
      const expected = Number(execFileSync('cksum', [file], { encoding: 'utf8' }).split(' ')[0]);
      expect(cksumBuffer(data), name).toBe(expected);
      expect(await cksumFile(file), name).toBe(expected);
    }
  });
});

describe('Bom', () => {
  it('reads back what it wrote: paths breadth-first, modes, owners, sizes, checksums, links', () => {
    const entries: BomEntry[] = [
      dirEntry('.'),
      dirEntry('./Library'),
      fileEntry('./Library/b.plist', 10),
      fileEntry('./Library/a.plist', 20),
      dirEntry('./Library/Application Support'),
      { path: './Library/link', type: 'link', mode: 0o755, uid: 0, gid: 0, mtime: 5, size: 8, checksum: 42, linkTarget: 'a.plist' },
      fileEntry('./top', 1),
    ];
    const bom = readBom(writeBom(entries));
    expect(bom.vars).toEqual(['BomInfo', 'Paths', 'HLIndex', 'VIndex', 'Size64']);
    expect(bom.entries.map((e) => e.path)).toEqual([
      '.', './Library', './top', './Library/Application Support', './Library/a.plist', './Library/b.plist', './Library/link',
    ]);
    const byPath = new Map(entries.map((e) => [e.path, e]));
    for (const e of bom.entries) expect(e).toEqual(byPath.get(e.path));
  });

  it('splits more than 256 paths over linked leaves under a branch node', () => {
    const entries = [dirEntry('.'), ...Array.from({ length: 700 }, (_, i) => fileEntry(`./f${String(i).padStart(4, '0')}`, i))];
    const bom = readBom(writeBom(entries));
    expect(bom.entries).toHaveLength(701);
    expect(bom.entries.at(-1)).toEqual(entries.at(-1));
  });

  it('refuses an entry whose folder is not listed, and a damaged file', () => {
    expect(() => writeBom([dirEntry('.'), fileEntry('./missing/x', 1)])).toThrow('./missing');
    const good = writeBom([dirEntry('.'), fileEntry('./x', 1)]);
    const badMagic = Buffer.from(good);
    badMagic.write('NOTABOM!', 0, 'latin1');
    expect(() => readBom(badMagic)).toThrow('BOMStore');
    expect(() => readBom(good.subarray(0, good.length - 4))).toThrow('not a valid Bom');
  });

  it('collects a folder as entries that agree with the disk', async () => {
    const root = join(dir, 'tree');
    mkdirSync(join(root, 'a', 'b'), { recursive: true });
    writeFileSync(join(root, 'a', 'b', 'c.txt'), 'hello');
    symlinkSync('b/c.txt', join(root, 'a', 'link'));
    const entries = await collectEntries(root);
    expect(entries.map((e) => `${e.path}:${e.type}`)).toEqual(['.:dir', './a:dir', './a/b:dir', './a/b/c.txt:file', './a/link:link']);
    const file = entries.find((e) => e.path === './a/b/c.txt')!;
    expect(file.size).toBe(5);
    expect(file.checksum).toBe(cksumBuffer(Buffer.from('hello')));
    expect(entries.find((e) => e.type === 'link')!.linkTarget).toBe('b/c.txt');
    const byPath = (a: BomEntry, b: BomEntry) => a.path.localeCompare(b.path);
    expect(readBom(writeBom(entries)).entries.sort(byPath)).toEqual([...entries].sort(byPath));
  });
});
