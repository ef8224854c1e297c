import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hashPublishKey, verifyPublishKey } from '../../src/storage/publish-key-hash.js';

describe('publish key hashes', () => {
  it('verify the key they were made from and no other', async () => {
    const stored = await hashPublishKey('lecture-key-4711');
    assert.equal(stored.includes('lecture-key-4711'), false);
    assert.match(stored, /^scrypt\$14\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    assert.equal(await verifyPublishKey('lecture-key-4711', stored), true);
    assert.equal(await verifyPublishKey('lecture-key-4712', stored), false);
    assert.equal(await verifyPublishKey('', stored), false);
  });

  it('are salted: one key hashes differently each time, and each hash verifies', async () => {
    const [a, b] = await Promise.all([
      hashPublishKey('same-key-1234'),
      hashPublishKey('same-key-1234'),
    ]);
    assert.notEqual(a, b);
    assert.equal(await verifyPublishKey('same-key-1234', a), true);
    assert.equal(await verifyPublishKey('same-key-1234', b), true);
  });

  it('refuse damaged or oversized parameters without asking scrypt for them', async () => {
    const stored = await hashPublishKey('lecture-key-4711');
    const parts = stored.split('$');
    const withParts = (i: number, value: string) =>
      parts.map((part, j) => (j === i ? value : part)).join('$');
    for (const damaged of [
      '',
      'plain-text-key',
      withParts(0, 'bcrypt'),
      withParts(1, '30'), // N = 2^30: gigabytes
      withParts(2, '1e9'),
      withParts(3, '0'),
      withParts(5, 'c2hvcnQ='),
      `${stored}$extra`,
    ]) {
      assert.equal(await verifyPublishKey('lecture-key-4711', damaged), false, damaged);
    }
  });
});
