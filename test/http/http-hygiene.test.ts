import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ERROR_CODES } from '../../src/http/error-codes.js';
import { createRuntime, type Runtime } from '../../src/server.js';
import { PlaybackTokens } from '../../src/service/playback-tokens.js';
import { call, startTestServer, type TestServer } from '../helpers/http.js';
import { ALL_PROFILES, segmentInput } from '../helpers/segments.js';

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'];

/** A concrete URL a route pattern serves: a valid id for each parameter, a name for a wildcard. */
function concrete(pattern: string): string {
  return pattern
    .replace(/:profile\b/g, 'Low')
    .replace(/:[A-Za-z_]+/g, 'x1')
    .replace(/\*$/, 'any-name');
}

describe('405 Method Not Allowed', () => {
  let runtime: Runtime;
  let base: string;
  /** Every route the app registers, collected here, independently of the app's own table. */
  const routes = new Map<string, Set<string>>();

  before(async () => {
    runtime = createRuntime({ logger: false, http: { apiRateLimit: 0, joinRateLimit: 0 } });
    // Routes are added when the app's plugins load, which is after this hook is in place.
    runtime.app.addHook('onRoute', (route) => {
      const methods = routes.get(route.url) ?? new Set<string>();
      for (const method of [route.method].flat()) methods.add(method);
      routes.set(route.url, methods);
    });
    base = await runtime.listen('127.0.0.1', 0);
  });
  after(() => runtime.close(1000));

  it('answers a method no route takes, on every route, with 405, Allow and the JSON error body', async () => {
    // A CORS preflight catch-all (OPTIONS on * or /prefix/*) makes no path a resource.
    const resources = [...routes].filter(
      ([url, methods]) => !(url.endsWith('*') && methods.size === 1 && methods.has('OPTIONS')),
    );
    assert.ok(resources.length >= 25, `found ${resources.length} routes`);
    for (const [pattern, own] of resources) {
      const url = `${base}${concrete(pattern)}`;
      const res = await fetch(url, { method: 'PATCH' });
      const body = await res.json();
      assert.equal(res.status, 405, `PATCH ${pattern}: ${JSON.stringify(body)}`);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      assert.equal(body.error.code, 'METHOD_NOT_ALLOWED');
      const allow = (res.headers.get('allow') ?? '').split(/,\s*/);
      for (const method of own) assert.ok(allow.includes(method), `${pattern}: Allow ${allow}`);
      if (own.has('GET')) assert.ok(allow.includes('HEAD'), `${pattern}: HEAD with GET`);
      assert.ok(!allow.includes('PATCH'), `${pattern}: Allow ${allow}`);
      assert.ok(
        allow.every((m) => METHODS.includes(m)),
        `${pattern}: Allow ${allow}`,
      );
    }
  });

  it('answers a wrong everyday method on a route with 405 listing it as not allowed', async () => {
    const cases: [string, string][] = [
      ['DELETE', '/api/v1/streams'],
      ['GET', '/api/v1/streams/x1/end'],
      ['PUT', '/live/x1/master.m3u8'],
      ['POST', '/live/x1/Low/index.m3u8'],
      ['GET', '/ingest/x1/Low/seg_0.ts'],
      ['POST', '/metrics'],
      ['DELETE', '/api/v1/openapi.json'],
      ['HEAD', '/api/v1/segments/deliver'],
    ];
    for (const [method, path] of cases) {
      const res = await fetch(`${base}${path}`, { method });
      const text = await res.text();
      assert.equal(res.status, 405, `${method} ${path}: ${text}`);
      const allow = (res.headers.get('allow') ?? '').split(/,\s*/);
      assert.ok(allow.length > 0 && !allow.includes(method), `${method} ${path}: Allow ${allow}`);
      if (method !== 'HEAD') assert.equal(JSON.parse(text).error.code, 'METHOD_NOT_ALLOWED');
    }
  });

  it('keeps unknown paths a 404, whatever the method', async () => {
    for (const [method, path] of [
      ['GET', '/nothing-here'],
      ['DELETE', '/api/v1/nothing'],
      ['POST', '/live/x1/Low/seg/deeper'],
      ['PATCH', '/live/x1'],
      ['GET', '/ingest'],
      ['OPTIONS', '/unknown'],
    ] as const) {
      const res = await fetch(`${base}${path}`, { method });
      const body = await res.json();
      assert.equal(res.status, 404, `${method} ${path}`);
      assert.equal(body.error.code, 'ROUTE_NOT_FOUND');
      assert.equal(res.headers.get('allow'), null);
    }
  });
});

describe('Location on 201 and 202', () => {
  let server: TestServer;
  let api: string;
  before(async () => {
    server = await startTestServer({}, 200, {
      encoders: { ffmpeg: '/nonexistent/vtp-test-ffmpeg' },
    });
    api = `${server.url}/api/v1`;
  });
  after(() => server.close());

  it('names the started stream, the joined viewer and the queued delivery, each readable there', async () => {
    const started = await call(`${api}/streams/start`, 'POST', { recording_id: 'loc' });
    assert.equal(started.status, 201);
    assert.equal(started.headers.get('location'), '/api/v1/streams/loc');
    const stream = await call(`${server.url}${started.headers.get('location')}`, 'GET');
    assert.equal(stream.body.recording_id, 'loc');

    const joined = await call(`${api}/streams/loc`, 'POST', { viewer_id: 'v.1' });
    assert.equal(joined.status, 201);
    assert.equal(joined.headers.get('location'), '/api/v1/streams/loc/viewers/v.1');
    const row = await call(`${server.url}${joined.headers.get('location')}`, 'GET', undefined, {
      authorization: `Bearer ${joined.body.session_id}`,
    });
    assert.equal(row.status, 200);
    assert.equal(row.body.viewer_id, 'v.1');

    for (const p of ALL_PROFILES) server.service.addSegmentToStream('loc', segmentInput(0, p));
    const queued = await call(`${api}/segments/deliver`, 'POST', {
      recording_id: 'loc',
      viewer_id: 'v.1',
      segment_id: 'seg-0',
    });
    assert.equal(queued.status, 202);
    assert.equal(
      queued.headers.get('location'),
      `/api/v1/segments/deliveries/${queued.body.delivery_id}`,
    );
    const delivery = await call(`${server.url}${queued.headers.get('location')}`, 'GET');
    assert.equal(delivery.body.delivery_id, queued.body.delivery_id);
  });

  it("names a started encoder's status", async () => {
    const started = await call(`${api}/transcode/start`, 'POST', { recording_id: 'enc-loc' });
    assert.equal(started.status, 201, JSON.stringify(started.body));
    assert.equal(started.headers.get('location'), `/api/v1/transcode/${started.body.job_id}`);
    const status = await call(`${server.url}${started.headers.get('location')}`, 'GET');
    assert.equal(status.body.job_id, started.body.job_id);
  });

  it('names a pushed file by its path, never with the key it was pushed with', async () => {
    server.ingest.access.setPublishKey('keyed', 'push-key-0123456789');
    const put = await fetch(`${server.url}/ingest/keyed/Low/seg_0.ts?key=push-key-0123456789`, {
      method: 'PUT',
      body: new Uint8Array(200),
    });
    await put.arrayBuffer();
    assert.equal(put.status, 201);
    assert.equal(put.headers.get('location'), '/ingest/keyed/Low/seg_0.ts');
    const playlist = await fetch(`${server.url}/ingest/keyed/master.m3u8`, {
      method: 'PUT',
      headers: { authorization: 'Bearer push-key-0123456789' },
      body: '#EXTM3U\n',
    });
    await playlist.arrayBuffer();
    assert.equal(playlist.status, 201);
    assert.equal(playlist.headers.get('location'), '/ingest/keyed/master.m3u8');
  });
});

describe('WWW-Authenticate on every 401', () => {
  const ADMIN_TOKEN = 'hygiene-admin-token-0123456789';
  const PLAYBACK_SECRET = 'hygiene-playback-secret-0123456789';
  let server: TestServer;
  before(async () => {
    server = await startTestServer({}, 200, {
      adminToken: ADMIN_TOKEN,
      playbackSecret: PLAYBACK_SECRET,
      ingest: { publishKey: 'hygiene-publish-key-0123456789' },
    });
    server.service.startLiveStream('guarded', 10);
    server.service.joinStream('guarded', 'v');
  });
  after(() => server.close());

  /** A request that draws each 401 code. */
  const TRIGGERS: Record<string, () => Promise<Response>> = {
    ADMIN_TOKEN_REQUIRED: () =>
      fetch(`${server.url}/api/v1/streams/guarded/end`, { method: 'POST' }),
    VIEWER_AUTH_REQUIRED: () => fetch(`${server.url}/api/v1/streams/guarded/viewers/v`),
    PUBLISH_KEY_REQUIRED: () =>
      fetch(`${server.url}/ingest/guarded/Low/seg_0.ts`, {
        method: 'PUT',
        body: new Uint8Array(10),
      }),
    PLAYBACK_TOKEN_REQUIRED: () => fetch(`${server.url}/live/guarded/master.m3u8`),
  };

  it('names how to authenticate for each 401 code the server has', async () => {
    const codes = Object.entries(ERROR_CODES)
      .filter(([, info]) => info.status === 401)
      .map(([code]) => code);
    assert.deepEqual(Object.keys(TRIGGERS).sort(), codes.sort(), 'a trigger for every 401 code');
    for (const code of codes) {
      const res = await (TRIGGERS[code] as () => Promise<Response>)();
      const body = await res.json();
      assert.equal(res.status, 401, code);
      assert.equal(body.error.code, code);
      const challenge = res.headers.get('www-authenticate') ?? '';
      assert.equal(
        challenge,
        (ERROR_CODES as Record<string, { challenge?: string }>)[code]?.challenge,
      );
      assert.match(challenge, /^[A-Za-z][A-Za-z0-9-]*( |$)/, `${code}: an auth-scheme first`);
    }
  });

  it('lets the challenged credential through', async () => {
    const token = await new PlaybackTokens(PLAYBACK_SECRET).issue('guarded');
    const playlist = await fetch(`${server.url}/live/guarded/master.m3u8?token=${token}`);
    await playlist.arrayBuffer();
    assert.notEqual(playlist.status, 401);
    const ended = await call(`${server.url}/api/v1/streams/guarded/end`, 'POST', undefined, {
      authorization: `Bearer ${ADMIN_TOKEN}`,
    });
    assert.equal(ended.status, 200);
  });
});

describe('unknown body fields', () => {
  let server: TestServer;
  let api: string;
  before(async () => {
    server = await startTestServer({}, 200, {
      encoders: { ffmpeg: '/nonexistent/vtp-test-ffmpeg' },
    });
    api = `${server.url}/api/v1`;
    server.service.startLiveStream('fields', 10);
    server.service.joinStream('fields', 'v');
  });
  after(() => server.close());

  it('refuses {"maxViewers": 5} with 400 naming maxViewers, and starts no stream', async () => {
    const res = await call(`${api}/streams/start`, 'POST', {
      recording_id: 'typo',
      maxViewers: 5,
    });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'INVALID_REQUEST');
    assert.equal(res.body.error.field, 'maxViewers');
    assert.match(res.body.error.message, /maxViewers/);
    assert.equal((await call(`${api}/streams/typo`, 'GET')).status, 404);
  });

  it('refuses an unknown field on every body the API takes, naming it (nested ones by their path)', async () => {
    const bodies: [string, string, Record<string, unknown>, string][] = [
      ['POST', '/streams/fields', { viewer_id: 'w', bitrate: 'High' }, 'bitrate'],
      [
        'POST',
        '/segments/deliver',
        { recording_id: 'fields', viewer_id: 'v', segment_id: 's', urgent: true },
        'urgent',
      ],
      [
        'POST',
        '/viewers/adapt-quality',
        { recording_id: 'fields', viewer_id: 'v', buffer_health: 50, bufferHealth: 50 },
        'bufferHealth',
      ],
      ['PUT', '/distribution/cdn', { enabled: false, baseUrl: 'http://x' }, 'baseUrl'],
      ['POST', '/transcode/start', { recording_id: 'enc', presets: 'full' }, 'presets'],
      [
        'POST',
        '/transcode/start',
        { recording_id: 'enc', source: { type: 'url', url: 'http://x/a.mp4', loop: true } },
        'source.loop',
      ],
    ];
    for (const [method, path, body, field] of bodies) {
      const res = await call(`${api}${path}`, method, body);
      assert.equal(res.status, 400, `${method} ${path}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.code, 'INVALID_REQUEST');
      assert.equal(res.body.error.field, field, `${method} ${path}`);
    }
  });
});
