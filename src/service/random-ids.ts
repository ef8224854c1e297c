import { randomFillSync } from 'node:crypto';

const ID_BYTES = 16; // 128 random bits
const POOL_IDS = 4096;

/**
 * Makes unguessable ids: a readable prefix and 128 random bits in base64url (22 characters).
 * Random bytes are drawn 64 KiB at a time because a call per id (or per 4 KiB, as
 * crypto.randomUUID batches) costs 10x more per byte and dominated the cost of a viewer join;
 * randomUUID also carries only 122 random bits.
 */
export function randomIdGenerator(prefix: string): () => string {
  const pool = Buffer.allocUnsafe(ID_BYTES * POOL_IDS);
  let offset = pool.length;
  return () => {
    if (offset === pool.length) {
      randomFillSync(pool);
      offset = 0;
    }
    const id = prefix + pool.toString('base64url', offset, offset + ID_BYTES);
    offset += ID_BYTES;
    return id;
  };
}
