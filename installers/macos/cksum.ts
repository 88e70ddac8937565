/**
 * The POSIX `cksum` CRC (CRC-32/CKSUM: polynomial 0x04C11DB7, not reflected, the length
 * appended, result inverted), which a Bom records for every file. Streaming, so a 110 MB
 * node binary is never held in memory.
 */
import { createReadStream } from 'node:fs';

const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 24;
    for (let k = 0; k < 8; k++) c = c & 0x80000000 ? (c << 1) ^ 0x04c11db7 : c << 1;
    t[i] = c >>> 0;
  }
  return t;
})();

export class Cksum {
  private crc = 0;
  private length = 0;

  update(data: Uint8Array): this {
    let crc = this.crc;
    for (let i = 0; i < data.length; i++) crc = ((crc << 8) ^ TABLE[((crc >>> 24) ^ data[i]!) & 0xff]!) >>> 0;
    this.crc = crc;
    this.length += data.length;
    return this;
  }

  digest(): number {
    let crc = this.crc;
    // The length goes in least significant byte first, only as many bytes as it needs.
    for (let n = this.length; n > 0; n = Math.floor(n / 256)) crc = ((crc << 8) ^ TABLE[((crc >>> 24) ^ (n & 0xff)) & 0xff]!) >>> 0;
    return ~crc >>> 0;
  }
}

export function cksumBuffer(data: Uint8Array): number {
  return new Cksum().update(data).digest();
}

export function cksumFile(path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const c = new Cksum();
    createReadStream(path)
      .on('data', (d) => c.update(d as Buffer))
      .on('error', reject)
      .on('end', () => resolve(c.digest()));
  });
}
