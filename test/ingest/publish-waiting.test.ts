import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../../bench/viewers/free-port.js';
import { call, startTestServer, type TestServer } from '../helpers/http.js';
import { segmentInput } from '../helpers/segments.js';
import { waitFor } from '../helpers/wait.js';

/** Short, so the quiet-stream sweep (every second) ends streams within the test. */
const ENCODER_TIMEOUT_MS = 1500;

describe('a stream with a stream key waits for its lecturer, and only for them', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer({}, 200, {
      ingest: { encoderTimeoutMs: ENCODER_TIMEOUT_MS },
      publishing: { host: '127.0.0.1', rtmpPort: await freePort() },
    });
  });

  after(() => server?.close());

  const status = async (id: string) =>
    (await call(`${server.url}/api/v1/streams/${id}`, 'GET')).body.status;

  it('holds a keyed stream with no media open, but ends a keyed stream fed over HTTP that went quiet', async () => {
    for (const id of ['awaited', 'pushed', 'plain']) {
      const body = { recording_id: id, ...(id !== 'plain' && { stream_key: true }) };
      assert.equal((await call(`${server.url}/api/v1/streams/start`, 'POST', body)).status, 201);
    }
    // 'pushed' is fed by an encoder pushing over HTTP (as a keyed stream may be), which stops.
    server.service.addSegmentToStream('pushed', segmentInput(0, 'Low'));
    await waitFor(
      async () =>
        (await status('pushed')) === 'ended' && (await status('plain')) === 'ended'
          ? true
          : undefined,
      ENCODER_TIMEOUT_MS + 10_000,
      'the quiet streams to end',
    );
    // The sweep has run past the timeout for all three: the one awaiting its lecturer is live.
    assert.equal(await status('awaited'), 'live');
  });
});
