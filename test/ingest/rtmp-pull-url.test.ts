import assert from 'node:assert/strict';
import { it } from 'node:test';
import { RtmpServer } from '../../src/ingest/rtmp/rtmp-server.js';

const log = { info() {}, warn() {} };
const pullUrlOn = (host: string) =>
  new RtmpServer({ host, port: 1935, approve: async () => undefined, onEnded() {}, log }).pullUrl(
    'pub-a',
  );

it('pulls a publish on loopback when the listener takes every address, else on its own address', () => {
  assert.equal(pullUrlOn('0.0.0.0'), 'rtmp://127.0.0.1:1935/live/pub-a');
  assert.equal(pullUrlOn('::'), 'rtmp://127.0.0.1:1935/live/pub-a');
  assert.equal(pullUrlOn('127.0.0.1'), 'rtmp://127.0.0.1:1935/live/pub-a');
  // Bound to one address, the listener is not reachable on 127.0.0.1.
  assert.equal(pullUrlOn('10.20.30.40'), 'rtmp://10.20.30.40:1935/live/pub-a');
  assert.equal(pullUrlOn('::1'), 'rtmp://[::1]:1935/live/pub-a');
});
