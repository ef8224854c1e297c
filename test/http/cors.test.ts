import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.js';
import { call, startTestServer, type TestServer } from '../helpers/http.js';
import { pushSegments } from '../helpers/push.js';
import { ALL_PROFILES, segmentInput } from '../helpers/segments.js';

const PAGE = 'https://lms.example.edu';
const OTHER = 'https://elsewhere.example.com';

/** A preflight as a browser sends it before a GET carrying CMCD headers and a Range. */
function preflight(url: string, origin: string, method = 'GET', headers = 'cmcd-request,range') {
  return fetch(url, {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': method,
      'access-control-request-headers': headers,
    },
  });
}

/** The URLs a player fetches: master, a media playlist, a segment of it. */
async function hlsUrls(base: string, id: string): Promise<string[]> {
  const master = `${base}/live/${id}/master.m3u8`;
  const masterText = await (await fetch(master)).text();
  const media = new URL(
    masterText.split('\n').find((l) => l.endsWith('m3u8') || l.includes('.m3u8?')) ?? '',
    master,
  ).href;
  const mediaText = await (await fetch(media)).text();
  const segment = new URL(
    mediaText.split('\n').find((l) => l !== '' && !l.startsWith('#')) ?? '',
    media,
  ).href;
  return [master, media, segment];
}

function publish(server: TestServer, id: string): void {
  server.service.startLiveStream(id, 100);
  for (let i = 0; i < 3; i++) {
    for (const p of ALL_PROFILES) server.service.addSegmentToStream(id, segmentInput(i, p));
  }
}

describe('CORS by default', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
    publish(server, 'open');
  });
  after(() => server.close());

  it('lets any origin read playlists and segments, with the headers players read exposed and no Vary on Origin', async () => {
    for (const url of await hlsUrls(server.url, 'open')) {
      const res = await fetch(url, { headers: { origin: PAGE } });
      await res.arrayBuffer();
      assert.equal(res.status, 200, url);
      assert.equal(res.headers.get('access-control-allow-origin'), '*', url);
      const exposed = (res.headers.get('access-control-expose-headers') ?? '').toLowerCase();
      for (const name of [
        'content-length',
        'content-range',
        'accept-ranges',
        'etag',
        'retry-after',
        'x-vtp-session',
      ]) {
        assert.ok(exposed.includes(name), `${url} exposes ${name}: ${exposed}`);
      }
      assert.doesNotMatch(
        res.headers.get('vary') ?? '',
        /origin/i,
        `${url}: one copy for every origin`,
      );
    }
  });

  it('answers a preflight for HLS with GET and HEAD and the CMCD and Range request headers', async () => {
    const [master, , segment] = await hlsUrls(server.url, 'open');
    for (const url of [master, segment] as string[]) {
      const res = await preflight(
        url as string,
        PAGE,
        'GET',
        'cmcd-request,cmcd-object,cmcd-status,cmcd-session,range',
      );
      assert.equal(res.status, 204, url);
      assert.equal(res.headers.get('access-control-allow-origin'), '*');
      assert.deepEqual(
        (res.headers.get('access-control-allow-methods') ?? '').split(/,\s*/).sort(),
        ['GET', 'HEAD'],
      );
      const allowed = (res.headers.get('access-control-allow-headers') ?? '').toLowerCase();
      for (const name of ['cmcd-request', 'cmcd-object', 'cmcd-status', 'cmcd-session', 'range']) {
        assert.ok(allowed.includes(name), `preflight allows ${name}: ${allowed}`);
      }
      assert.ok(Number(res.headers.get('access-control-max-age')) > 0, 'the preflight is cached');
    }
  });

  it('keeps CORS headers on HLS errors, so a page can read a 404 and retry', async () => {
    const res = await fetch(`${server.url}/live/open/Low/never-published.ts`, {
      headers: { origin: PAGE },
    });
    assert.equal(res.status, 404);
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    assert.equal((await res.json()).error.code, 'SEGMENT_NOT_FOUND');
  });

  it('keeps CORS headers on a /live/ path no route serves, and on a wrong method there', async () => {
    for (const [path, method, status, code] of [
      ['/live/open', 'GET', 404, 'ROUTE_NOT_FOUND'],
      ['/live/open/Low/deeper/still.ts', 'GET', 404, 'ROUTE_NOT_FOUND'],
      ['/live/open/master.m3u8', 'POST', 405, 'METHOD_NOT_ALLOWED'],
    ] as const) {
      const res = await fetch(`${server.url}${path}`, { method, headers: { origin: PAGE } });
      const body = await res.json();
      assert.equal(res.status, status, path);
      assert.equal(body.error.code, code, path);
      assert.equal(res.headers.get('access-control-allow-origin'), '*', path);
      assert.match(res.headers.get('access-control-expose-headers') ?? '', /Retry-After/, path);
    }
    const elsewhere = await fetch(`${server.url}/nowhere`, { headers: { origin: PAGE } });
    await elsewhere.arrayBuffer();
    assert.equal(elsewhere.status, 404);
    assert.equal(elsewhere.headers.get('access-control-allow-origin'), null, 'only /live/ paths');
  });

  it('answers HEAD on HLS with the CORS headers too', async () => {
    const [master, media, segment] = await hlsUrls(server.url, 'open');
    for (const url of [master, media, segment] as string[]) {
      const res = await fetch(url, { method: 'HEAD', headers: { origin: PAGE } });
      assert.equal(res.status, 200, url);
      assert.equal(res.headers.get('access-control-allow-origin'), '*', url);
    }
  });

  it('loads no CORS plugin when HLS is open to any origin and the API closed', () => {
    assert.equal(server.app.hasPlugin('@fastify/cors'), false);
  });

  it('sends the control API, ingest and metrics no CORS headers, and refuses their preflights with 405', async () => {
    const api = await fetch(`${server.url}/api/v1/streams`, { headers: { origin: PAGE } });
    assert.equal(api.status, 200);
    await api.arrayBuffer();
    const metrics = await fetch(`${server.url}/metrics`, { headers: { origin: PAGE } });
    assert.equal(metrics.status, 200);
    await metrics.arrayBuffer();
    for (const res of [api, metrics]) {
      assert.equal(res.headers.get('access-control-allow-origin'), null);
    }
    for (const [url, method] of [
      [`${server.url}/api/v1/streams/start`, 'POST'],
      [`${server.url}/ingest/open/Low/seg_9.ts`, 'PUT'],
      [`${server.url}/metrics`, 'GET'],
    ] as const) {
      const res = await preflight(url, PAGE, method, 'content-type');
      const body = await res.json();
      assert.equal(res.status, 405, url);
      assert.equal(body.error.code, 'METHOD_NOT_ALLOWED');
      assert.equal(res.headers.get('access-control-allow-origin'), null, url);
      assert.equal(res.headers.get('access-control-allow-methods'), null, url);
    }
  });

  it('sends no CORS headers on an encoder push from a page', async () => {
    const res = await fetch(`${server.url}/ingest/pushed/Low/seg_0.ts`, {
      method: 'PUT',
      headers: { origin: PAGE },
      body: new Uint8Array(100),
    });
    await res.arrayBuffer();
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('access-control-allow-origin'), null);
  });
});

describe('CORS with allowed origins configured', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({}, 200, {
      http: { corsOrigins: `${PAGE}, https://moodle.example.edu`, apiCorsOrigins: PAGE },
    });
    publish(server, 'listed');
  });
  after(() => server.close());

  it('echoes a listed origin on HLS with Vary: Origin, and gives any other origin nothing', async () => {
    for (const url of await hlsUrls(server.url, 'listed')) {
      const listed = await fetch(url, { headers: { origin: PAGE } });
      await listed.arrayBuffer();
      assert.equal(listed.headers.get('access-control-allow-origin'), PAGE, url);
      assert.match(listed.headers.get('vary') ?? '', /origin/i, url);
      const other = await fetch(url, { headers: { origin: OTHER } });
      await other.arrayBuffer();
      assert.equal(other.status, 200, 'the server answers; the browser withholds it');
      assert.equal(other.headers.get('access-control-allow-origin'), null, url);
    }
    const refused = await preflight(`${server.url}/live/listed/master.m3u8`, OTHER);
    assert.equal(refused.headers.get('access-control-allow-origin'), null);
  });

  it('lets a listed origin call the control API with a bearer token and read Location', async () => {
    const pre = await preflight(
      `${server.url}/api/v1/streams/start`,
      PAGE,
      'POST',
      'authorization,content-type',
    );
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), PAGE);
    const allowed = (pre.headers.get('access-control-allow-headers') ?? '').toLowerCase();
    assert.ok(allowed.includes('authorization') && allowed.includes('content-type'), allowed);
    assert.ok((pre.headers.get('access-control-allow-methods') ?? '').includes('POST'));
    const started = await call(
      `${server.url}/api/v1/streams/start`,
      'POST',
      { recording_id: 'from-page' },
      { origin: PAGE },
    );
    assert.equal(started.status, 201);
    assert.equal(started.headers.get('access-control-allow-origin'), PAGE);
    assert.match(started.headers.get('access-control-expose-headers') ?? '', /Location/);
    const stranger = await call(`${server.url}/api/v1/streams`, 'GET', undefined, {
      origin: OTHER,
    });
    assert.equal(stranger.headers.get('access-control-allow-origin'), null);
  });

  it('echoes a listed origin on a /live/ path no route serves, and nothing to another', async () => {
    const listed = await fetch(`${server.url}/live/listed`, { headers: { origin: PAGE } });
    await listed.arrayBuffer();
    assert.equal(listed.status, 404);
    assert.equal(listed.headers.get('access-control-allow-origin'), PAGE);
    assert.match(listed.headers.get('vary') ?? '', /origin/i);
    const other = await fetch(`${server.url}/live/listed`, { headers: { origin: OTHER } });
    await other.arrayBuffer();
    assert.equal(other.status, 404);
    assert.equal(other.headers.get('access-control-allow-origin'), null);
    assert.ok(server.app.hasPlugin('@fastify/cors'), 'a list goes through @fastify/cors');
  });

  it('still sends ingest no CORS headers', async () => {
    await pushSegments(server.url, 'pushed', 'Low', 0, 1);
    const res = await preflight(`${server.url}/ingest/pushed/Low/seg_1.ts`, PAGE, 'PUT');
    await res.arrayBuffer();
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('access-control-allow-origin'), null);
  });
});

describe('CORS with HLS open to any origin and the API to a list', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({}, 200, { http: { apiCorsOrigins: PAGE } });
    publish(server, 'mixed');
  });
  after(() => server.close());

  it('keeps HLS at * without Vary, and echoes only the listed origin on the API', async () => {
    for (const url of await hlsUrls(server.url, 'mixed')) {
      const res = await fetch(url, { headers: { origin: OTHER } });
      await res.arrayBuffer();
      assert.equal(res.headers.get('access-control-allow-origin'), '*', url);
      assert.doesNotMatch(res.headers.get('vary') ?? '', /origin/i, url);
    }
    const listed = await call(`${server.url}/api/v1/streams`, 'GET', undefined, { origin: PAGE });
    assert.equal(listed.headers.get('access-control-allow-origin'), PAGE);
    const other = await call(`${server.url}/api/v1/streams`, 'GET', undefined, { origin: OTHER });
    assert.equal(other.headers.get('access-control-allow-origin'), null);
    const metrics = await fetch(`${server.url}/metrics`, { headers: { origin: PAGE } });
    await metrics.arrayBuffer();
    assert.equal(metrics.headers.get('access-control-allow-origin'), null, 'metrics: none');
    const preflight = await fetch(`${server.url}/live/mixed/master.m3u8`, {
      method: 'OPTIONS',
      headers: { origin: OTHER, 'access-control-request-method': 'GET' },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), '*');
  });
});

describe('CORS settings', () => {
  it('default to any origin for HLS and none for the API', () => {
    const config = loadConfig({}, {});
    assert.equal(config.corsOrigins, '*');
    assert.equal(config.apiCorsOrigins, '');
  });

  it('take origins from flags and the environment, refusing what is not an origin', () => {
    assert.equal(loadConfig({}, { VTP_CORS_ORIGINS: PAGE }).corsOrigins, PAGE);
    assert.equal(loadConfig({ 'api-cors-origins': PAGE }, {}).apiCorsOrigins, PAGE);
    for (const bad of ['lms.example.edu', `${PAGE}/`, `${PAGE}/player`, 'ftp://x.example']) {
      assert.throws(
        () => loadConfig({ 'cors-origins': bad }, {}),
        (error: Error) => error instanceof ConfigError && /--cors-origins/.test(error.message),
        bad,
      );
    }
    assert.throws(() => loadConfig({}, { VTP_API_CORS_ORIGINS: 'nope' }), /VTP_API_CORS_ORIGINS/);
  });

  it("refuse '*' for the control API, naming the setting and why, but take it for HLS", async () => {
    for (const [flags, env, source] of [
      [{ 'api-cors-origins': '*' }, {}, '--api-cors-origins'],
      [{ 'api-cors-origins': `${PAGE},*` }, {}, '--api-cors-origins'],
      [{}, { VTP_API_CORS_ORIGINS: ' * ' }, 'VTP_API_CORS_ORIGINS'],
    ] as const) {
      assert.throws(
        () => loadConfig(flags, env),
        (error: Error) =>
          error instanceof ConfigError &&
          error.message.includes(source) &&
          /'\*' is not allowed/.test(error.message) &&
          /any web page/.test(error.message),
        JSON.stringify({ flags, env }),
      );
    }
    assert.equal(loadConfig({ 'cors-origins': '*' }, {}).corsOrigins, '*');
    assert.equal(loadConfig({ 'api-cors-origins': 'none' }, {}).apiCorsOrigins, 'none');
    // The app refuses it too, whoever builds it.
    await assert.rejects(
      startTestServer({}, 200, { http: { apiCorsOrigins: '*' } }),
      /'\*' is not allowed/,
    );
  });
});
