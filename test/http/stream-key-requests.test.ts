import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../../bench/viewers/free-port.js';
import { call, startTestServer, type TestServer } from '../helpers/http.js';

describe('asking for a stream key, and reading the publish URLs', () => {
  let withPublishing: TestServer;
  let without: TestServer;

  before(async () => {
    withPublishing = await startTestServer({}, 200, {
      publishing: { host: '127.0.0.1', rtmpPort: await freePort() },
    });
    without = await startTestServer();
  });

  after(async () => {
    await withPublishing?.close();
    await without?.close();
  });

  const start = (server: TestServer, body: object) =>
    call(`${server.url}/api/v1/streams/start`, 'POST', body);

  it('uses the publish key as the stream key when it has the form, and says why not when not', async () => {
    const key = 'lecture-key-0123456789';
    const good = await start(withPublishing, {
      recording_id: 'a',
      publish_key: key,
      stream_key: true,
    });
    assert.equal(good.status, 201);
    assert.equal(good.body.ingest.stream_key, key);
    assert.equal(good.body.ingest.rtmp_url.endsWith(`/live/${key}`), true);

    for (const publish_key of ['has spaces in it 123', 'x'.repeat(65)]) {
      const bad = await start(withPublishing, { recording_id: 'b', publish_key, stream_key: true });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.code, 'INVALID_REQUEST');
      assert.equal(bad.body.error.field, 'publish_key');
    }
    // A key names one stream: another stream cannot take it.
    const taken = await start(withPublishing, {
      recording_id: 'b',
      publish_key: key,
      stream_key: true,
    });
    assert.equal(taken.status, 400);
    assert.match(taken.body.error.message, /stream key of another stream/);
    // Refused before anything started: no stream 'b'.
    assert.equal((await call(`${withPublishing.url}/api/v1/streams/b`, 'GET')).status, 404);
  });

  it('answers a stream key asked of a server without publishing with PUBLISHING_OFF', async () => {
    const refused = await start(without, { recording_id: 'c', stream_key: true });
    assert.equal(refused.status, 409);
    assert.equal(refused.body.error.code, 'PUBLISHING_OFF');
    assert.equal(refused.body.error.field, 'stream_key');
    assert.equal((await call(`${without.url}/api/v1/streams/c`, 'GET')).status, 404);
  });

  it('takes only a boolean', async () => {
    const wrong = await start(withPublishing, { recording_id: 'd', stream_key: 'yes' });
    assert.equal(wrong.status, 400);
    assert.equal(wrong.body.error.field, 'stream_key');
  });

  it('answers GET .../ingest with 404s naming what is missing', async () => {
    await start(withPublishing, { recording_id: 'keyless' });
    const keyless = await call(`${withPublishing.url}/api/v1/streams/keyless/ingest`, 'GET');
    assert.equal(keyless.status, 404);
    assert.equal(keyless.body.error.code, 'STREAM_KEY_NOT_FOUND');
    const unknown = await call(`${withPublishing.url}/api/v1/streams/nope/ingest`, 'GET');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, 'STREAM_NOT_FOUND');
    const status = (await call(`${withPublishing.url}/api/v1/streams/keyless`, 'GET')).body;
    assert.equal(status.ingest, null, 'a stream without a key shows no ingest');
  });
});
