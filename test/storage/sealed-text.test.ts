import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadOrCreateKey, seal, unseal } from '../../src/storage/sealed-text.js';
import { tempDir } from './store-fixtures.js';

describe('sealed text', () => {
  it('opens with its key only, and never shows the text', () => {
    const key = randomBytes(32);
    const url = 'rtmp://camera:s3cr3t@10.0.0.5/live/stream-key';
    const sealed = seal(key, url);
    assert.equal(sealed.includes('s3cr3t'), false);
    assert.notEqual(seal(key, url), sealed, 'a fresh IV each time');
    assert.equal(unseal(key, sealed), url);
    assert.equal(unseal(randomBytes(32), sealed), undefined);
  });

  it('refuses a damaged value instead of opening it as garbage', () => {
    const key = randomBytes(32);
    const sealed = seal(key, 'rtmp://host/live/key');
    const raw = Buffer.from(sealed.slice(3), 'base64');
    raw[raw.length - 1] = (raw[raw.length - 1] ?? 0) ^ 1;
    assert.equal(unseal(key, `v1.${raw.toString('base64')}`), undefined);
    assert.equal(unseal(key, 'v1.AAAA'), undefined);
    assert.equal(unseal(key, 'rtmp://host/live/key'), undefined);
  });

  it('makes an owner-only key file once and reads it back afterwards', async (t) => {
    const file = path.join(await tempDir(t), 'vtp.key');
    const key = loadOrCreateKey(file);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.deepEqual(loadOrCreateKey(file), key);
    assert.deepEqual(readFileSync(file), key);
    writeFileSync(file, 'short');
    assert.throws(() => loadOrCreateKey(file), /key file .*vtp\.key holds 5 bytes, not 32/);
  });
});
