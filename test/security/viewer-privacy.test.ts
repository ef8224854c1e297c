import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { call, startTestServer, type TestServer } from '../helpers/http.js';

const ADMIN_TOKEN = 'admin-token-of-20-chars';
const ADMIN = { authorization: `Bearer ${ADMIN_TOKEN}` };

let server: TestServer;
let api: string;
let alice: string;
let bob: string;

const bearer = (session: string) => ({ authorization: `Bearer ${session}` });

before(async () => {
  server = await startTestServer({}, 200, { adminToken: ADMIN_TOKEN });
  api = `${server.url}/api/v1`;
  await call(`${api}/streams/start`, 'POST', { recording_id: 'lecture', max_viewers: 10 }, ADMIN);
  alice = (await call(`${api}/streams/lecture`, 'POST', { viewer_id: 'alice' })).body.session_id;
  bob = (await call(`${api}/streams/lecture`, 'POST', { viewer_id: 'bob' })).body.session_id;
});
after(() => server.close());

describe('viewer privacy on a server with an admin token', () => {
  it('shows anyone the aggregate statistics but no viewer rows or session ids', async () => {
    const stats = await call(`${api}/streams/lecture`, 'GET');
    assert.equal(stats.status, 200);
    assert.equal(stats.body.active_viewers, 2);
    assert.deepEqual(stats.body.viewers, []);
    assert.doesNotMatch(JSON.stringify(stats.body), /alice|bob|vs-/);
    const list = await call(`${api}/streams`, 'GET');
    assert.doesNotMatch(JSON.stringify(list.body), /alice|bob|vs-/);
  });

  it('shows a viewer its own row only, and the operator every row, never a session id', async () => {
    const own = await call(`${api}/streams/lecture`, 'GET', undefined, bearer(alice));
    assert.deepEqual(
      own.body.viewers.map((v: { viewer_id: string }) => v.viewer_id),
      ['alice'],
    );
    const all = await call(`${api}/streams/lecture`, 'GET', undefined, ADMIN);
    assert.deepEqual(
      all.body.viewers.map((v: { viewer_id: string }) => v.viewer_id),
      ['alice', 'bob'],
    );
    assert.doesNotMatch(
      JSON.stringify(all.body),
      /vs-/,
      'the join is the only place a session id is handed out',
    );
    assert.equal(
      (await call(`${api}/streams/lecture/viewers/alice`, 'GET', undefined, bearer(alice))).status,
      200,
    );
    assert.equal(
      (await call(`${api}/streams/lecture/viewers/alice`, 'GET', undefined, ADMIN)).status,
      200,
    );
  });

  const hijacks: Array<[string, string, string, unknown]> = [
    ['reads another viewer', 'GET', '/streams/lecture/viewers/alice', undefined],
    [
      'forces another viewer down',
      'POST',
      '/viewers/adapt-quality',
      { recording_id: 'lecture', viewer_id: 'alice', buffer_health: 1 },
    ],
    [
      'takes another viewer’s next segment',
      'GET',
      '/streams/lecture/viewers/alice/next?wait_ms=0',
      undefined,
    ],
    ['kicks another viewer', 'DELETE', '/streams/lecture?viewer_id=alice', undefined],
  ];
  for (const [what, method, path, body] of hijacks) {
    it(`refuses a stranger who ${what} (401) and another viewer (403)`, async () => {
      const stranger = await call(`${api}${path}`, method, body);
      assert.equal(stranger.status, 401);
      assert.equal(stranger.body.error.code, 'VIEWER_AUTH_REQUIRED');
      assert.equal(stranger.body.error.field, 'authorization');
      assert.equal(stranger.headers.get('www-authenticate'), 'Bearer');
      const other = await call(`${api}${path}`, method, body, bearer(bob));
      assert.equal(other.status, 403);
      assert.equal(other.body.error.code, 'VIEWER_FORBIDDEN');
      const forged = await call(`${api}${path}`, method, body, bearer('vs-AAAAAAAAAAAAAAAAAAAAAA'));
      assert.equal(forged.status, 403);
    });
  }

  it('lets a viewer report, fetch and leave with its own session (lowercase bearer too)', async () => {
    const carol = (await call(`${api}/streams/lecture`, 'POST', { viewer_id: 'carol' })).body
      .session_id;
    const report = { recording_id: 'lecture', viewer_id: 'carol', buffer_health: 10 };
    const adapted = await call(`${api}/viewers/adapt-quality`, 'POST', report, {
      authorization: `bearer ${carol}`,
    });
    assert.equal(adapted.status, 200);
    assert.equal(adapted.body.new_bitrate, 'VeryLow');
    const left = await call(
      `${api}/streams/lecture?viewer_id=carol`,
      'DELETE',
      undefined,
      bearer(carol),
    );
    assert.equal(left.status, 200);
    assert.equal(left.body.session_id, undefined);
  });

  it('pages the operator through a large audience with limit and cursor, no page over the limit', async () => {
    server.service.startLiveStream('crowd', 5000);
    for (let i = 0; i < 2500; i++) server.service.joinStream('crowd', `s-${i}`);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = cursor === null ? 'limit=1000' : `limit=1000&cursor=${cursor}`;
      const page = await call(`${api}/streams/crowd?${query}`, 'GET', undefined, ADMIN);
      assert.equal(page.status, 200);
      assert.ok(page.body.viewers.length <= 1000);
      seen.push(...page.body.viewers.map((v: { viewer_id: string }) => v.viewer_id));
      cursor = page.body.next_cursor;
      pages++;
    } while (cursor !== null && pages < 10);
    assert.equal(pages, 3);
    assert.equal(seen.length, 2500);
    assert.equal(new Set(seen).size, 2500);
    const defaultPage = await call(`${api}/streams/crowd`, 'GET', undefined, ADMIN);
    assert.equal(defaultPage.body.viewers.length, 100);
    for (const limit of ['0', '1001', 'x']) {
      const bad = await call(`${api}/streams/crowd?limit=${limit}`, 'GET', undefined, ADMIN);
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.field, 'limit');
    }
  });
});
