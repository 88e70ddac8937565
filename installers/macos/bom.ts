/**
 * Writes a Bom ("bill of materials"), the list of every path a flat package installs with
 * its mode, owner, size and checksum, which macOS's installer and pkgutil read. Nothing in
 * Debian or npm writes one. All numbers are big-endian. The layout (as documented by the
 * public bomutils sources):
 *
 *   header (512 bytes)  "BOMStore", version 1, block count, index offset/length, vars offset/length
 *   vars                count, then per var: block id, name length, name
 *   blocks              the data, addressed through the block table
 *   block table         count, then (address, length) per block; block 0 is the null block
 *   free list           count 0 plus two empty entries
 *
 * Vars: BomInfo, Paths (a B-tree of every path), HLIndex, VIndex and Size64 (empty trees).
 * Paths leaves hold up to 256 (PathInfo1 block, BOMFile block) pairs; PathInfo1 is (id,
 * PathInfo2 block), BOMFile is (parent id, name). Ids are handed out breadth-first from
 * ".", children sorted bytewise, which keeps the leaves in key order.
 */

export type BomType = 'file' | 'dir' | 'link';

export interface BomEntry {
  /** "." or "./Library/...", as in the payload. */
  path: string;
  type: BomType;
  /** Permission bits (0o755); the type bits are added here. */
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  size: number;
  /** POSIX cksum of the content (files and links). */
  checksum: number;
  linkTarget?: string;
}

export const BOM_TYPE_CODE: Record<BomType, number> = { file: 1, dir: 2, link: 3 };
export const BOM_MODE_BITS: Record<BomType, number> = { file: 0o100000, dir: 0o040000, link: 0o120000 };
const LEAF_CAPACITY = 256;
const HEADER_SIZE = 512;

class Blocks {
  readonly data: Buffer[] = [Buffer.alloc(0)]; // block 0: the null block

  add(buf: Buffer): number {
    this.data.push(buf);
    return this.data.length - 1;
  }
}

function u32(...values: number[]): Buffer {
  const b = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => b.writeUInt32BE(v >>> 0, i * 4));
  return b;
}

function tree(child: number, blockSize: number, pathCount: number): Buffer {
  return Buffer.concat([Buffer.from('tree'), u32(1, child, blockSize, pathCount), Buffer.alloc(1)]);
}

function leaf(pairs: [number, number][], forward = 0, backward = 0, isLeaf = true): Buffer {
  const b = Buffer.alloc(12 + pairs.length * 8);
  b.writeUInt16BE(isLeaf ? 1 : 0, 0);
  b.writeUInt16BE(pairs.length, 2);
  b.writeUInt32BE(forward, 4);
  b.writeUInt32BE(backward, 8);
  pairs.forEach(([a, f], i) => {
    b.writeUInt32BE(a, 12 + i * 8);
    b.writeUInt32BE(f, 16 + i * 8);
  });
  return b;
}

function pathInfo2(e: BomEntry): Buffer {
  const link = e.type === 'link' ? Buffer.from(`${e.linkTarget ?? ''}\0`) : Buffer.alloc(0);
  const b = Buffer.alloc(31);
  b.writeUInt8(BOM_TYPE_CODE[e.type], 0);
  b.writeUInt8(1, 1);
  b.writeUInt16BE(3, 2); // "architecture": the value Apple's own boms carry for plain files
  b.writeUInt16BE((BOM_MODE_BITS[e.type] | (e.mode & 0o7777)) & 0xffff, 4);
  b.writeUInt32BE(e.uid, 6);
  b.writeUInt32BE(e.gid, 10);
  b.writeUInt32BE(e.mtime >>> 0, 14);
  b.writeUInt32BE(e.type === 'dir' ? 0 : e.size, 18);
  b.writeUInt8(1, 22);
  b.writeUInt32BE(e.type === 'dir' ? 0 : e.checksum >>> 0, 23);
  b.writeUInt32BE(link.length, 27);
  return Buffer.concat([b, link]);
}

/** Orders entries breadth-first from "." with children sorted bytewise, and checks every parent is listed. */
export function bomOrder(entries: BomEntry[]): { entry: BomEntry; id: number; parent: number; name: string }[] {
  const byPath = new Map(entries.map((e) => [e.path, e]));
  if (!byPath.has('.')) throw new Error('a Bom needs the root entry "."');
  const children = new Map<string, BomEntry[]>();
  for (const e of entries) {
    if (e.path === '.') continue;
    const parent = e.path.slice(0, e.path.lastIndexOf('/'));
    if (!byPath.has(parent)) throw new Error(`Bom entry ${e.path} has no entry for its folder ${parent}`);
    const list = children.get(parent) ?? [];
    list.push(e);
    children.set(parent, list);
  }
  const out: { entry: BomEntry; id: number; parent: number; name: string }[] = [];
  const queue: { path: string; id: number }[] = [];
  out.push({ entry: byPath.get('.')!, id: 1, parent: 0, name: '.' });
  queue.push({ path: '.', id: 1 });
  while (queue.length > 0) {
    const { path, id } = queue.shift()!;
    const kids = (children.get(path) ?? []).sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
    for (const k of kids) {
      const kid = { entry: k, id: out.length + 1, parent: id, name: k.path.slice(path.length + 1) };
      out.push(kid);
      queue.push({ path: k.path, id: kid.id });
    }
  }
  return out;
}

export function writeBom(entries: BomEntry[]): Buffer {
  const ordered = bomOrder(entries);
  const blocks = new Blocks();
  const vars: [string, number][] = [];

  const info = Buffer.concat([u32(1, ordered.length + 1, 1), Buffer.alloc(16)]);
  vars.push(['BomInfo', blocks.add(info)]);

  const pairs = ordered.map((o) => {
    const info2 = blocks.add(pathInfo2(o.entry));
    const info1 = blocks.add(u32(o.id, info2));
    const file = blocks.add(Buffer.concat([u32(o.parent), Buffer.from(`${o.name}\0`)]));
    return [info1, file] as [number, number];
  });
  const chunks: [number, number][][] = [];
  for (let i = 0; i < pairs.length; i += LEAF_CAPACITY) chunks.push(pairs.slice(i, i + LEAF_CAPACITY));
  // Reserve the leaf ids first so each leaf can name its neighbours.
  const leafIds = chunks.map(() => blocks.add(Buffer.alloc(0)));
  chunks.forEach((c, i) => (blocks.data[leafIds[i]!] = leaf(c, leafIds[i + 1] ?? 0, leafIds[i - 1] ?? 0)));
  // One leaf is the whole tree; more get one branch node keyed by each leaf's last path.
  const root = chunks.length === 1
    ? leafIds[0]!
    : blocks.add(leaf(chunks.map((c, i) => [leafIds[i]!, c[c.length - 1]![1]]), 0, 0, false));
  vars.push(['Paths', blocks.add(tree(root, 4096, ordered.length))]);

  vars.push(['HLIndex', blocks.add(tree(blocks.add(leaf([])), 4096, 0))]);
  const vtree = blocks.add(tree(blocks.add(leaf([])), 128, 0));
  vars.push(['VIndex', blocks.add(Buffer.concat([u32(1, vtree, 0), Buffer.alloc(1)]))]);
  vars.push(['Size64', blocks.add(tree(blocks.add(leaf([])), 4096, 0))]);

  const varsBuf = Buffer.concat([u32(vars.length), ...vars.map(([name, id]) => Buffer.concat([u32(id), Buffer.from([name.length]), Buffer.from(name)]))]);
  const dataStart = HEADER_SIZE + varsBuf.length;
  let offset = dataStart;
  const table = [u32(blocks.data.length), u32(0, 0)];
  for (const b of blocks.data.slice(1)) {
    table.push(u32(offset, b.length));
    offset += b.length;
  }
  const tableBuf = Buffer.concat(table);
  const freeList = Buffer.concat([u32(0), Buffer.alloc(16)]);

  const header = Buffer.alloc(HEADER_SIZE);
  header.write('BOMStore', 0, 'latin1');
  header.writeUInt32BE(1, 8);
  header.writeUInt32BE(blocks.data.length - 1, 12);
  header.writeUInt32BE(offset, 16);
  header.writeUInt32BE(tableBuf.length + freeList.length, 20);
  header.writeUInt32BE(HEADER_SIZE, 24);
  header.writeUInt32BE(varsBuf.length, 28);
  return Buffer.concat([header, varsBuf, ...blocks.data.slice(1), tableBuf, freeList]);
}
