/**
 * The node runtimes the installers carry: several builds fetching at once into one empty
 * cache (the MSI and its upgrade build, or two test files) each get the whole, verified
 * binary. Before, one build could unpack over another's and pack a half-written node.exe
 * (Windows then refuses it: error 193, "not a valid Win32 application"). Uses `npm pack` from
 * the registry (npm's own cache makes repeats fast); the linux-x64 runtime is the smallest.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fetchRuntime } from '../../installers/runtimes.js';

const cache = mkdtempSync(join(tmpdir(), 'cg-runtimes-'));
afterAll(() => rmSync(cache, { recursive: true, force: true }));

describe('fetching a runtime', () => {
  it('gives concurrent builds the same complete binary and leaves no work folders behind', async () => {
    const got = await Promise.all([1, 2, 3].map(() => fetchRuntime('linux-x64', cache)));
    const digests = got.map((r) => createHash('sha256').update(readFileSync(r.binary)).digest('hex'));
    expect(new Set(digests).size).toBe(1);
    expect(new Set(got.map((r) => r.binary)).size).toBe(1);
    // The binary is whole: an ELF header, and the size the tarball says (tar would have failed otherwise).
    expect(readFileSync(got[0]!.binary).subarray(1, 4).toString()).toBe('ELF');
    expect(readdirSync(join(cache, 'runtimes')).filter((f) => f.startsWith('.'))).toEqual([]);
    // A later fetch uses the verified copy.
    expect((await fetchRuntime('linux-x64', cache)).binary).toBe(got[0]!.binary);
  }, 180_000);
});
