import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import HLS from 'hls-parser';
import { call, startTestServer, type TestServer } from '../helpers/http.js';
import { pushSegments } from '../helpers/push.js';

type MediaPlaylist = InstanceType<typeof HLS.types.MediaPlaylist>;

const ADMIN_TOKEN = 'admin-token-of-20-chars';
const ADMIN = { authorization: `Bearer ${ADMIN_TOKEN}` };

describe('anonymous sessions', () => {
  let server: TestServer;
  let live: string;
  before(async () => {
    server = await startTestServer({}, 200, { adminToken: ADMIN_TOKEN });
    live = `${server.url}/live/lecture`;
    await call(`${server.url}/api/v1/streams/start`, 'POST', { recording_id: 'lecture' }, ADMIN);
    await pushSegments(server.url, 'lecture', 'VeryLow', 0, 3);
  });
  after(() => server.close());

  it('leaves room for a real student after 110 anonymous playlist requests from one address', async () => {
    const answers = await Promise.all(
      Array.from({ length: 110 }, () => fetch(`${live}/master.m3u8`)),
    );
    const statuses = answers.map((r) => r.status);
    const sessions = answers.map((r) => r.headers.get('x-vtp-session')).filter((s) => s !== null);
    await Promise.all(answers.map((r) => r.arrayBuffer()));
    assert.equal(statuses.filter((s) => s === 200).length, 4, 'four anonymous sessions per client');
    assert.equal(statuses.filter((s) => s === 429).length, 106);
    const refused = answers.find((r) => r.status === 429);
    assert.ok(Number(refused?.headers.get('retry-after')) > 0);
    // Even when the attacker's sessions fetch segments, only they take seats.
    for (const session of sessions) {
      const media = await fetch(`${live}/VeryLow/index.m3u8?session=${session}`);
      const uri = (HLS.parse(await media.text()) as MediaPlaylist).segments.at(-1)?.uri ?? '';
      const segment = await fetch(new URL(uri, `${live}/VeryLow/`));
      assert.equal(segment.status, 200);
      await segment.arrayBuffer();
    }
    const stats = await call(`${server.url}/api/v1/streams/lecture`, 'GET');
    assert.equal(stats.body.active_viewers, 4);
    const student = await call(`${server.url}/api/v1/streams/lecture`, 'POST', {
      viewer_id: 'ada',
    });
    assert.equal(student.status, 201);
  });

  it('answers HEAD of the playlist without creating a session', async () => {
    const before = (await call(`${server.url}/api/v1/streams/lecture`, 'GET')).body.active_viewers;
    for (let i = 0; i < 20; i++) {
      const head = await fetch(`${live}/master.m3u8`, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get('x-vtp-session'), null);
    }
    const after = (await call(`${server.url}/api/v1/streams/lecture`, 'GET')).body.active_viewers;
    assert.equal(after, before);
  });
});

describe('rate limits', () => {
  let server: TestServer;
  let api: string;
  before(async () => {
    server = await startTestServer({}, 200, {
      adminToken: ADMIN_TOKEN,
      http: { joinRateLimit: 5, apiRateLimit: 30, trustProxy: true },
    });
    api = `${server.url}/api/v1`;
    await call(`${api}/streams/start`, 'POST', { recording_id: 'talk', max_viewers: 500 }, ADMIN);
  });
  after(() => server.close());

  it('limits joins per client with a JSON 429 and Retry-After, per forwarded address behind a proxy', async () => {
    const from = (address: string) => ({ 'x-forwarded-for': address });
    const joins = [];
    for (let i = 0; i < 7; i++) {
      joins.push(
        await call(`${api}/streams/talk`, 'POST', { viewer_id: `a-${i}` }, from('10.1.1.1')),
      );
    }
    assert.deepEqual(
      joins.map((j) => j.status),
      [201, 201, 201, 201, 201, 429, 429],
    );
    const limited = joins[5];
    assert.equal(limited?.body.error.code, 'RATE_LIMITED');
    assert.ok(Number(limited?.headers.get('retry-after')) > 0);
    const other = await call(`${api}/streams/talk`, 'POST', { viewer_id: 'b-0' }, from('10.2.2.2'));
    assert.equal(other.status, 201, 'another client has its own budget');
    const operator = await call(
      `${api}/streams/talk`,
      'POST',
      { viewer_id: 'lms-1' },
      {
        ...ADMIN,
        ...from('10.1.1.1'),
      },
    );
    assert.equal(operator.status, 201, 'the admin token is never limited');
  });

  it('limits every control API request per client, but not HLS or the admin', async () => {
    const headers = { 'x-forwarded-for': '10.3.3.3' };
    const statuses: number[] = [];
    for (let i = 0; i < 35; i++)
      statuses.push((await call(`${api}/distribution/metrics`, 'GET', undefined, headers)).status);
    assert.equal(statuses.filter((s) => s === 200).length, 30);
    assert.equal(statuses.filter((s) => s === 429).length, 5);
    for (let i = 0; i < 35; i++) {
      assert.equal(
        (await call(`${api}/distribution/metrics`, 'GET', undefined, { ...ADMIN, ...headers }))
          .status,
        200,
      );
    }
  });
});
