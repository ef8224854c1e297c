import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { run } from '../helpers/exec.js';
import { call, startTestServer, type TestServer } from '../helpers/http.js';
import { type RunningRedis, startRedis } from '../helpers/redis.js';

const ADMIN = 'admin-token-for-shared-joins';
const admin = { authorization: `Bearer ${ADMIN}` };

let redis: RunningRedis;
let client: Redis;
let server: TestServer;
let streamNo = 0;

/** A stream started through the API, capped at `maxViewers`; its seats key in Redis. */
async function started(maxViewers: number): Promise<{ id: string; seats: string }> {
  const id = `joins${++streamNo}`;
  const answer = await call(
    `${server.url}/api/v1/streams/start`,
    'POST',
    { recording_id: id, max_viewers: maxViewers },
    admin,
  );
  assert.equal(answer.status, 201, JSON.stringify(answer.body));
  const incarnation = server.service.getDistributor(id).incarnation;
  return { id, seats: `vtp:aud:${id}:${incarnation}:seats` };
}

before(async () => {
  await run('bash', ['scripts/ensure-system-deps.sh', 'redis-server']);
  redis = await startRedis();
  client = new Redis(redis.url);
  server = await startTestServer({}, 200, {
    stateUrl: redis.url,
    adminToken: ADMIN,
    playbackSecret: 'playback-secret-for-shared-joins',
  });
});

after(async () => {
  await server?.close();
  client?.disconnect();
  await redis?.stop();
});

describe('joins with --state-url', () => {
  it('seats nothing in the shared state for a join refused its playback token', async () => {
    const { id, seats } = await started(1);
    const capReached: unknown[] = [];
    server.service.events.on('viewer_cap_reached', (detail) => capReached.push(detail));
    const refused = await call(`${server.url}/api/v1/streams/${id}`, 'POST', { viewer_id: 'eve' });
    assert.ok([401, 403].includes(refused.status), JSON.stringify(refused.body));
    assert.equal(await client.zcard(seats), 0);
    const joined = await call(
      `${server.url}/api/v1/streams/${id}`,
      'POST',
      { viewer_id: 'ada' },
      admin,
    );
    assert.equal(joined.status, 201, JSON.stringify(joined.body));
    // The stream is full now: a refused join must not announce the cap either.
    const again = await call(`${server.url}/api/v1/streams/${id}`, 'POST', { viewer_id: 'eve' });
    assert.ok([401, 403].includes(again.status), JSON.stringify(again.body));
    assert.deepEqual(capReached, []);
    assert.equal(await client.zcard(seats), 1);
  });

  it('keeps the seat of one of two joins of a viewer sent at once, refusing the other', async () => {
    const { id, seats } = await started(10);
    const join = () =>
      call(`${server.url}/api/v1/streams/${id}`, 'POST', { viewer_id: 'twice' }, admin);
    const answers = await Promise.all([join(), join()]);
    assert.deepEqual(answers.map((a) => a.status).sort(), [201, 409]);
    const winner = answers.find((a) => a.status === 201)?.body.session_id as string;
    // Seated here and in the shared state, after an exchange too.
    await server.service.refreshAudience(id);
    assert.equal(server.service.findSession(winner)?.session.viewerId, 'twice');
    assert.equal(await client.zcard(seats), 1);
    assert.notEqual(await client.zscore(seats, winner), null);
    const row = await call(
      `${server.url}/api/v1/streams/${id}/viewers/twice`,
      'GET',
      undefined,
      admin,
    );
    assert.equal(row.status, 200, JSON.stringify(row.body));
  });
});
