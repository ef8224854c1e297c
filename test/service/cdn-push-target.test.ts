import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  fetchTransport,
  objectPath,
  PushTargetError,
  parsePushTargets,
} from '../../src/service/cdn-push-target.js';
import { type PushTargetServer, startPushTarget } from '../helpers/push-target.js';

const SECRET = 's3cret-pass-word';
const TOKEN = 'tok-0123456789abcdef';

describe('push targets (--cdn-push-targets)', () => {
  it('parse a comma-separated list, moving userinfo into Basic authorization and keeping the query', () => {
    const [plain, withUser, withToken] = parsePushTargets(
      ` http://127.0.0.1:9000 ,https://pusher:${SECRET}@cdn.example.com/origin/,https://push.example.net/v1?token=${TOKEN}`,
    );
    assert.deepEqual(
      [plain?.label, plain?.base, plain?.query, plain?.authorization],
      ['http://127.0.0.1:9000', 'http://127.0.0.1:9000', '', undefined],
    );
    assert.equal(withUser?.label, 'https://***@cdn.example.com/origin');
    assert.equal(withUser?.base, 'https://cdn.example.com/origin');
    assert.equal(
      withUser?.authorization,
      `Basic ${Buffer.from(`pusher:${SECRET}`).toString('base64')}`,
    );
    assert.equal(withToken?.label, 'https://push.example.net/v1?token=[REDACTED]');
    assert.equal(withToken?.query, `?token=${TOKEN}`);
    for (const target of [withUser, withToken]) {
      assert.ok(!target?.label.includes(SECRET) && !target?.label.includes(TOKEN));
    }
  });

  for (const [name, raw, message] of [
    ['an empty entry', 'http://a.example,,http://b.example', /empty target/],
    [
      'another scheme',
      `ftp://user:${SECRET}@cdn.example.com`,
      /target 1 must be an http:\/\/ or https:\/\/ URL, not ftp:/,
    ],
    ['a string that is no URL', `not a url user:${SECRET}@`, /target 1 is not a valid URL/],
    ['a fragment', 'http://cdn.example.com/#x', /#fragment/],
    [
      'two targets alike once masked',
      `http://a:${SECRET}@cdn.example.com,http://b:${TOKEN}@cdn.example.com`,
      /lists http:\/\/\*\*\*@cdn\.example\.com twice/,
    ],
  ] as const) {
    it(`refuse ${name} without repeating a secret`, () => {
      assert.throws(
        () => parsePushTargets(raw),
        (error) => {
          assert.ok(error instanceof PushTargetError);
          assert.match(error.message, message);
          assert.ok(!error.message.includes(SECRET), error.message);
          assert.ok(!error.message.includes(TOKEN), error.message);
          return true;
        },
      );
    });
  }
});

describe('the fetch transport', () => {
  let server: PushTargetServer;
  before(async () => {
    server = await startPushTarget();
  });
  after(() => server.close());

  it('PUTs under the base path with the query, Basic authorization and the headers given', async () => {
    const url = new URL(server.url);
    const [target] = parsePushTargets(`http://pusher:${SECRET}@${url.host}/edge/?token=${TOKEN}`);
    assert.ok(target);
    const path = objectPath('live', 'rec-1', 'Low', 'abc-1.ts');
    await fetchTransport.put(
      target,
      {
        path,
        body: new Uint8Array([1, 2, 3]),
        contentType: 'video/mp2t',
        cacheControl: 'public, max-age=86400, immutable',
      },
      AbortSignal.timeout(5000),
    );
    const request = server.requests.at(-1);
    assert.equal(request?.method, 'PUT');
    assert.equal(request?.path, '/edge/live/rec-1/Low/abc-1.ts');
    assert.equal(request?.query, `?token=${TOKEN}`);
    assert.equal(request?.headers.authorization, target.authorization);
    assert.equal(request?.headers['content-type'], 'video/mp2t');
    assert.equal(request?.headers['cache-control'], 'public, max-age=86400, immutable');
    assert.deepEqual([...(request?.body ?? [])], [1, 2, 3]);
    await fetchTransport.delete(target, path, AbortSignal.timeout(5000));
    assert.equal(server.files.size, 0);
    // Already gone is as good as removed.
    await fetchTransport.delete(target, path, AbortSignal.timeout(5000));
  });

  it('throws on an error status or a refused connection, with the secrets masked', async () => {
    const url = new URL(server.url);
    const [target] = parsePushTargets(`http://pusher:${SECRET}@${url.host}?token=${TOKEN}`);
    assert.ok(target);
    const object = {
      path: 'live/x/Low/a.ts',
      body: 'x',
      contentType: 'video/mp2t',
      cacheControl: '',
    };
    server.failWith = 503;
    await assert.rejects(
      fetchTransport.put(target, object, AbortSignal.timeout(5000)),
      /^Error: PUT \/live\/x\/Low\/a\.ts answered 503$/,
    );
    server.failWith = undefined;
    const closed = await startPushTarget();
    await closed.close();
    const [gone] = parsePushTargets(
      `http://pusher:${SECRET}@${new URL(closed.url).host}?token=${TOKEN}`,
    );
    assert.ok(gone);
    await assert.rejects(fetchTransport.put(gone, object, AbortSignal.timeout(5000)), (error) => {
      assert.match(String(error), /PUT \/live\/x\/Low\/a\.ts: .*ECONNREFUSED/);
      assert.ok(!String(error).includes(SECRET) && !String(error).includes(TOKEN));
      return true;
    });
  });
});
