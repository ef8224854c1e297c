import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto';

/**
 * A per-stream publish key as stored: salted scrypt, never the key. Publish keys are chosen by
 * people (8 characters at least), so a fast hash of a leaked database could be guessed offline;
 * scrypt makes each guess cost memory and time. Both calls are asynchronous (libuv's thread
 * pool), so hashing never blocks the event loop.
 *
 * A verification costs tens of milliseconds: a consumer verifies a stored hash once, then keeps
 * the key it verified in memory for later pushes (PublishAccess compares in constant time).
 *
 * Format: `scrypt$<log2 N>$<r>$<p>$<salt base64>$<hash base64>`, so stronger parameters later
 * still read older hashes.
 */

const LOG2_N = 14; // N = 16384, r = 8: 16 MiB per hash
const R = 8;
const P = 1;
const SALT_BYTES = 16;
const HASH_BYTES = 32;
const MAX_MEMORY = 64 * 2 ** 20;

function derive(key: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(key, salt, HASH_BYTES, options, (error, derived) =>
      error ? reject(error) : resolve(derived),
    );
  });
}

export async function hashPublishKey(key: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const hash = await derive(key, salt, { N: 2 ** LOG2_N, r: R, p: P });
  return ['scrypt', LOG2_N, R, P, salt.toString('base64'), hash.toString('base64')].join('$');
}

/** True when `presented` is the key `stored` was made from; false for any malformed `stored`. */
export async function verifyPublishKey(presented: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [log2N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  if (![log2N, r, p].every(Number.isInteger) || log2N < 1 || r < 1 || p < 1 || p > 16) return false;
  // A damaged row must not ask scrypt for gigabytes: at most MAX_MEMORY per verification.
  const memory = 128 * 2 ** log2N * r;
  if (memory > MAX_MEMORY) return false;
  const salt = Buffer.from(parts[4] as string, 'base64');
  const expected = Buffer.from(parts[5] as string, 'base64');
  if (expected.length !== HASH_BYTES) return false;
  const derived = await derive(presented, salt, {
    N: 2 ** log2N,
    r,
    p,
    maxmem: 2 * MAX_MEMORY,
  });
  return timingSafeEqual(derived, expected);
}
