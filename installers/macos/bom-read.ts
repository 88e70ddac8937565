/**
 * Reads a Bom back into its entries (the format is described in bom.ts). Written for the
 * tests, independently of the writer's internals: it follows only the header, the block
 * table, the vars and the Paths tree, and refuses anything that does not add up.
 */
import { BOM_MODE_BITS, BOM_TYPE_CODE, type BomEntry, type BomType } from './bom.js';

export interface BomFile {
  vars: string[];
  entries: BomEntry[];
}

export function readBom(buf: Buffer): BomFile {
  const fail = (what: string): never => {
    throw new Error(`not a valid Bom: ${what}`);
  };
  if (buf.length < 512 || buf.toString('latin1', 0, 8) !== 'BOMStore') fail('no "BOMStore" header');
  if (buf.readUInt32BE(8) !== 1) fail(`version ${buf.readUInt32BE(8)}, expected 1`);
  const blockCount = buf.readUInt32BE(12);
  const indexOffset = buf.readUInt32BE(16);
  const varsOffset = buf.readUInt32BE(24);
  const varsLength = buf.readUInt32BE(28);
  if (indexOffset + buf.readUInt32BE(20) !== buf.length) fail('index offset + length is not the file length');

  const tableCount = buf.readUInt32BE(indexOffset);
  const blocks: Buffer[] = [];
  for (let i = 0; i < tableCount; i++) {
    const addr = buf.readUInt32BE(indexOffset + 4 + i * 8);
    const len = buf.readUInt32BE(indexOffset + 8 + i * 8);
    if (addr + len > indexOffset) fail(`block ${i} runs past the data`);
    blocks.push(buf.subarray(addr, addr + len));
  }
  if (blocks.filter((b) => b.length > 0).length !== blockCount) fail(`header says ${blockCount} blocks, table has ${blocks.filter((b) => b.length > 0).length}`);
  const block = (id: number): Buffer => blocks[id] ?? fail(`block ${id} does not exist`);

  const vars = new Map<string, number>();
  let p = varsOffset + 4;
  for (let i = 0, n = buf.readUInt32BE(varsOffset); i < n; i++) {
    const id = buf.readUInt32BE(p);
    const len = buf.readUInt8(p + 4);
    vars.set(buf.toString('latin1', p + 5, p + 5 + len), id);
    p += 5 + len;
  }
  if (p !== varsOffset + varsLength) fail('vars length does not match its entries');

  const pathsTree = block(vars.get('Paths') ?? fail('no Paths var'));
  if (pathsTree.toString('latin1', 0, 4) !== 'tree') fail('Paths is not a tree');
  const pathCount = pathsTree.readUInt32BE(16);

  // Descend to the first leaf, then follow the leaves' forward links.
  let node = block(pathsTree.readUInt32BE(8));
  while (node.readUInt16BE(0) === 0) node = block(node.readUInt32BE(12));
  const pairs: [number, number][] = [];
  for (;;) {
    const count = node.readUInt16BE(2);
    for (let i = 0; i < count; i++) pairs.push([node.readUInt32BE(12 + i * 8), node.readUInt32BE(16 + i * 8)]);
    const forward = node.readUInt32BE(4);
    if (forward === 0) break;
    node = block(forward);
  }
  if (pairs.length !== pathCount) fail(`Paths tree says ${pathCount} paths, its leaves hold ${pairs.length}`);

  const typeByCode = new Map(Object.entries(BOM_TYPE_CODE).map(([t, c]) => [c, t as BomType]));
  const pathById = new Map<number, string>([[0, '']]);
  const entries: BomEntry[] = [];
  for (const [info1Id, fileId] of pairs) {
    const info1 = block(info1Id);
    const file = block(fileId);
    const id = info1.readUInt32BE(0);
    const info2 = block(info1.readUInt32BE(4));
    const parent = file.readUInt32BE(0);
    const name = file.toString('utf8', 4, file.indexOf(0, 4));
    const parentPath = pathById.get(parent) ?? fail(`${name}: parent id ${parent} comes later or not at all`);
    const path = parent === 0 ? name : `${parentPath}/${name}`;
    pathById.set(id, path);
    const type = typeByCode.get(info2.readUInt8(0)) ?? fail(`${path}: unknown type ${info2.readUInt8(0)}`);
    const mode = info2.readUInt16BE(4);
    if ((mode & 0o170000) !== BOM_MODE_BITS[type]) fail(`${path}: mode ${mode.toString(8)} does not match type ${type}`);
    const linkLength = info2.readUInt32BE(27);
    entries.push({
      path,
      type,
      mode: mode & 0o7777,
      uid: info2.readUInt32BE(6),
      gid: info2.readUInt32BE(10),
      mtime: info2.readUInt32BE(14),
      size: info2.readUInt32BE(18),
      checksum: info2.readUInt32BE(23),
      ...(linkLength > 0 ? { linkTarget: info2.toString('utf8', 31, 31 + linkLength - 1) } : {}),
    });
  }
  return { vars: [...vars.keys()], entries };
}
