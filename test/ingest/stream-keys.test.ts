import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isStreamKeyFormat } from '../../src/ingest/rtmp/stream-key.js';
import { StreamKeys } from '../../src/ingest/rtmp/stream-keys.js';

describe('StreamKeys', () => {
  it('issues a random key per stream in the RTMP and SRT character set, found by itself', () => {
    const keys = new StreamKeys();
    const a = keys.issue('lecture-a');
    const b = keys.issue('lecture-b');
    assert.ok(isStreamKeyFormat(a) && a.length === 32, a);
    assert.notEqual(a, b);
    assert.ok(!a.includes('lecture'), 'a key is never the stream name');
    assert.equal(keys.streamOf(a), 'lecture-a');
    assert.equal(keys.streamOf(b), 'lecture-b');
    assert.equal(keys.keyFor('lecture-a'), a, 'for the publish URLs');
  });

  it('refuses unknown, malformed and replaced keys', () => {
    const keys = new StreamKeys();
    const first = keys.issue('lecture');
    assert.equal(
      keys.streamOf(`${first.slice(0, -1)}${first.endsWith('A') ? 'B' : 'A'}`),
      undefined,
    );
    assert.equal(keys.streamOf('lecture'), undefined, 'the public name is no key');
    assert.equal(keys.streamOf(`${first}/../x`), undefined);
    assert.equal(keys.streamOf(''), undefined);
    const second = keys.issue('lecture');
    assert.equal(keys.streamOf(first), undefined, 'a new key replaces the old one');
    assert.equal(keys.streamOf(second), 'lecture');
  });

  it('forgets a stream, and takes a stored key back after a restart', () => {
    const keys = new StreamKeys();
    const key = keys.issue('lecture');
    keys.forget('lecture');
    assert.equal(keys.streamOf(key), undefined);
    assert.equal(keys.keyFor('lecture'), undefined);
    const restarted = new StreamKeys();
    restarted.remember('lecture', key);
    assert.equal(restarted.streamOf(key), 'lecture');
  });
});
