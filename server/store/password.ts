/**
 * Password hashing with scrypt (memory-hard; N=2^15, r=8: 32 MiB and ~100 ms per try), run
 * off the event loop on libuv's thread pool, with a small cap on how many run at once and
 * a bounded queue behind it. A burst of anonymous logins then costs at most `concurrency`
 * pool threads and `concurrency` x 32 MiB, and never delays agent acks: scryptSync on the
 * event loop stalled every socket of the server for ~100 ms per login.
 */
import { randomBytes, scrypt, scryptSync, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { AppError } from '../../shared/errors.js';

const SCRYPT = { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
const KEYLEN = 32;

/** The store's string form: `scrypt$N$r$p$salt$key` (parameters kept, so they can be raised later). */
function encode(salt: Buffer, key: Buffer): string {
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

function decode(stored: string): { salt: Buffer; key: Buffer; opts: ScryptOptions } | null {
  const [scheme, n, r, p, salt, key] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !key) return null;
  return { salt: Buffer.from(salt, 'base64'), key: Buffer.from(key, 'base64'), opts: { N: Number(n), r: Number(r), p: Number(p), maxmem: SCRYPT.maxmem } };
}

/**
 * Synchronous hashing, for the admin CLI and the demo start-up only (one hash, in a process
 * that serves nobody yet). Request handlers use the hasher's `hash`.
 */
export function hashPasswordSync(password: string): string {
  const salt = randomBytes(16);
  return encode(salt, scryptSync(password.normalize('NFC'), salt, KEYLEN, SCRYPT));
}

function scryptAsync(password: string, salt: Buffer, keylen: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scrypt(password.normalize('NFC'), salt, keylen, opts, (err, key) => (err ? reject(err) : resolve(key))));
}

/** Thrown when the queue is full: the HTTP layer answers 429 with Retry-After. */
export class KdfBusy extends AppError {
  readonly retryAfterSec = 1;
  constructor() {
    super('rate_limited', 'the server is busy checking other sign-ins; try again in a second');
  }
}

export interface KdfLimits {
  /** scrypts running at once (libuv's pool has 4 threads by default; keep some for file I/O). */
  concurrency: number;
  /** waiting beyond that; more are refused with KdfBusy. */
  maxQueue: number;
}

export const KDF_LIMITS: KdfLimits = { concurrency: 2, maxQueue: 8 };

export function createPasswordHasher(limits: KdfLimits = KDF_LIMITS) {
  let active = 0;
  let peak = 0;
  let refused = 0;
  const queue: Array<() => void> = [];

  async function slot<T>(fn: () => Promise<T>): Promise<T> {
    if (active >= limits.concurrency) {
      if (queue.length >= limits.maxQueue) {
        refused++;
        throw new KdfBusy();
      }
      await new Promise<void>((resolve) => queue.push(resolve));
    }
    active++;
    peak = Math.max(peak, active);
    try {
      return await fn();
    } finally {
      active--;
      queue.shift()?.();
    }
  }

  // Verified against when the user does not exist, so timing does not reveal valid names.
  // Made on first need, not at import: loading the module costs nothing.
  let dummy: Promise<string> | null = null;
  const hash = (password: string): Promise<string> =>
    slot(async () => {
      const salt = randomBytes(16);
      return encode(salt, await scryptAsync(password, salt, KEYLEN, SCRYPT));
    });

  return {
    hash,
    /** `stored` null: the user does not exist; the same work is done against a dummy hash. */
    async verify(password: string, stored: string | null): Promise<boolean> {
      if (stored === null && dummy === null) {
        dummy = hash(randomBytes(12).toString('base64'));
        dummy.catch(() => (dummy = null)); // refused (queue full): the next one tries again
      }
      const d = decode(stored ?? (await dummy!));
      if (!d) return false;
      const actual = await slot(() => scryptAsync(password, d.salt, d.key.length, d.opts));
      return timingSafeEqual(d.key, actual) && stored !== null;
    },
    stats: () => ({ active, queued: queue.length, peak, refused }),
  };
}

export type PasswordHasher = ReturnType<typeof createPasswordHasher>;
