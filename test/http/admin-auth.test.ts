import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { call, startTestServer, type TestServer } from '../helpers/http.js';

let server: TestServer;
let api: string;
const ADMIN = { authorization: 'Bearer admin-secret' };

before(async () => {
  server = await startTestServer({}, 200, { adminToken: 'admin-secret' });
  api = `${server.url}/api/v1`;
});
after(() => server.close());

describe('with an admin token', () => {
  const guarded: [string, string, unknown][] = [
    ['POST', '/streams/start', { recording_id: 'guarded' }],
    ['POST', '/streams/guarded/end', undefined],
    ['PUT', '/distribution/cdn', { enabled: false }],
    ['POST', '/segments/deliver', { recording_id: 'guarded', viewer_id: 'v', segment_id: 's' }],
    ['POST', '/transcode/start', { recording_id: 'guarded' }],
    ['POST', '/transcode/enc-x/stop', undefined],
  ];
  for (const [method, path, body] of guarded) {
    it(`${method} ${path} needs it: 401 without, 403 with a wrong one`, async () => {
      const none = await call(`${api}${path}`, method, body);
      assert.equal(none.status, 401);
      assert.equal(none.body.error.code, 'ADMIN_TOKEN_REQUIRED');
      assert.equal(none.body.error.field, 'authorization');
      assert.equal(none.headers.get('www-authenticate'), 'Bearer');
      const wrong = await call(`${api}${path}`, method, body, { authorization: 'Bearer nope' });
      assert.equal(wrong.status, 403);
    });
  }

  it('lets the holder of the token run the stream, and viewers join, watch and report with their own session', async () => {
    assert.equal(
      (await call(`${api}/streams/start`, 'POST', { recording_id: 'open' }, ADMIN)).status,
      201,
    );
    const joined = await call(`${api}/streams/open`, 'POST', { viewer_id: 'v' });
    assert.equal(joined.status, 201);
    const own = { authorization: `Bearer ${joined.body.session_id}` };
    const report = { recording_id: 'open', viewer_id: 'v', buffer_health: 50 };
    assert.equal((await call(`${api}/viewers/adapt-quality`, 'POST', report)).status, 401);
    assert.equal((await call(`${api}/viewers/adapt-quality`, 'POST', report, own)).status, 200);
    assert.equal((await call(`${api}/streams/open`, 'GET')).status, 200);
    assert.equal((await call(`${api}/distribution/metrics`, 'GET')).status, 200);
    assert.equal(
      (await call(`${api}/streams/open?viewer_id=v`, 'DELETE', undefined, own)).status,
      200,
    );
    assert.equal((await call(`${api}/streams/open/end`, 'POST', undefined, ADMIN)).status, 200);
  });
});
