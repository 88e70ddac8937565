/**
 * A stand-in for the store's pseudonym function (issue 14, being added in server/store/):
 * a keyed HMAC-SHA256 of the user name, stable per person, that cannot be reversed or
 * recomputed without the key. The key is made once into DATA/alert-pseudonym.key (0600).
 * main.ts passes `pseudonymFor` to the alert engine and reports, so swapping in the
 * store's function at merge is one line there.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type PseudonymFor = (user: string | null) => string | null;

export function keyedPseudonyms(key: Buffer): PseudonymFor {
  return (user) => {
    if (user === null || user === '') return null;
    // Case and the Windows domain prefix's case do not make two people: CLINIC\Dr.Lee = clinic\dr.lee.
    return `clinician-${createHmac('sha256', key).update(user.toLowerCase(), 'utf8').digest('hex').slice(0, 12)}`;
  };
}

export function pseudonymsFromDataDir(dataDir: string): PseudonymFor {
  const file = join(dataDir, 'alert-pseudonym.key');
  try {
    if (!existsSync(file)) writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600, flag: 'wx' });
  } catch (err) {
    // A second instance on the same folder made it first: use theirs.
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  return keyedPseudonyms(Buffer.from(readFileSync(file, 'utf8').trim(), 'hex'));
}
