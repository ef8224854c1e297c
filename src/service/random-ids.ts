import { randomFillSync } from 'node:crypto';

const ID_BYTES = 16; // 128 random bits
const POOL_IDS = 256;

/**
 * Makes unguessable ids: a readable prefix and 128 random bits in hex.
 * Random bytes are drawn 4 KiB at a time (as crypto.randomUUID does internally) because a
 * syscall per id would dominate the cost of a viewer join; randomUUID itself has only 122 bits.
 */
export function randomIdGenerator(prefix: string): () => string {
  const pool = Buffer.allocUnsafe(ID_BYTES * POOL_IDS);
  let offset = pool.length;
  return () => {
    if (offset === pool.length) {
      randomFillSync(pool);
      offset = 0;
    }
    const id = prefix + pool.toString('hex', offset, offset + ID_BYTES);
    offset += ID_BYTES;
    return id;
  };
}
