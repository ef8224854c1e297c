import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import SwaggerParser from '@apidevtools/swagger-parser';
import { freePort } from '../../bench/viewers/free-port.js';
import { createRuntime, type Runtime } from '../../src/server.js';
import { call } from '../helpers/http.js';
import { pushSegments } from '../helpers/push.js';
import { ALL_PROFILES, segmentInput } from '../helpers/segments.js';

const ADMIN_TOKEN = 'openapi-admin-token-0123456789';

/** Whether an operation takes the admin token alone. */
function adminOnly(operation: { security?: unknown }): boolean {
  return JSON.stringify(operation.security ?? []) === '[{"adminToken":[]}]';
}

/** `/api/v1/streams/:recording_id` as OpenAPI writes it: `/api/v1/streams/{recording_id}`. */
function openapiPath(url: string): string {
  return url.replace(/:([A-Za-z_]+)/g, '{$1}');
}

describe('the OpenAPI document', () => {
  let runtime: Runtime;
  let base: string;
  let doc: any;
  /** Every route the app registers (method -> URLs), collected independently of the document. */
  const routes: { method: string; url: string; admin: boolean }[] = [];

  before(async () => {
    runtime = createRuntime({
      logger: false,
      adminToken: ADMIN_TOKEN,
      http: { apiRateLimit: 0, joinRateLimit: 0 },
    });
    runtime.app.addHook('onRoute', (route) => {
      for (const method of [route.method].flat())
        routes.push({ method, url: route.url, admin: false });
    });
    base = await runtime.listen('127.0.0.1', 0);
    const res = await fetch(`${base}/api/v1/openapi.json`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    doc = await res.json();
  });
  after(() => runtime.close(1000));

  it('is a valid OpenAPI 3 document', async () => {
    assert.match(doc.openapi, /^3\./);
    // The validator resolves $refs in place: give it a copy.
    await SwaggerParser.validate(structuredClone(doc));
  });

  it('describes every route with its methods, but HEAD twins, preflights and the docs page', () => {
    const missing: string[] = [];
    let checked = 0;
    for (const { method, url } of routes) {
      // HEAD answers as GET does; OPTIONS is the CORS preflight; /api/docs is Swagger UI's own.
      if (method === 'HEAD' || method === 'OPTIONS' || url.startsWith('/api/docs')) continue;
      checked++;
      const operation = doc.paths[openapiPath(url)]?.[method.toLowerCase()];
      if (!operation) missing.push(`${method} ${url}`);
    }
    assert.deepEqual(missing, [], 'routes missing from the document');
    assert.ok(checked >= 25, `checked ${checked} routes`);
    for (const must of ['/api/v1/streams/start', '/live/{recording_id}/master.m3u8', '/metrics']) {
      assert.ok(doc.paths[must], `${must} is described`);
    }
  });

  it('lists no operation that no route serves', () => {
    const served = new Set(routes.map(({ method, url }) => `${method} ${openapiPath(url)}`));
    for (const [path, item] of Object.entries<Record<string, unknown>>(doc.paths)) {
      for (const method of Object.keys(item)) {
        assert.ok(served.has(`${method.toUpperCase()} ${path}`), `${method} ${path}`);
      }
    }
  });

  it("gives every operation a summary, listed tags and a success response with its schema, from the route's own schema", () => {
    const tags = new Set(doc.tags.map((tag: { name: string }) => tag.name));
    const lacking: string[] = [];
    for (const [path, item] of Object.entries<Record<string, any>>(doc.paths)) {
      for (const [method, operation] of Object.entries<any>(item)) {
        const name = `${method.toUpperCase()} ${path}`;
        if (typeof operation.summary !== 'string' || operation.summary === '') {
          lacking.push(`${name}: summary`);
        }
        if (!(operation.tags?.length > 0) || !operation.tags.every((t: string) => tags.has(t))) {
          lacking.push(`${name}: a listed tag (${operation.tags})`);
        }
        const successes = Object.entries<any>(operation.responses).filter(([s]) =>
          /^[23]\d\d$/.test(s),
        );
        // Without a response schema a route has none; a schema without a description reads
        // 'Default Response'.
        if (
          successes.length === 0 ||
          successes.some(([, r]) => r.description === 'Default Response')
        ) {
          lacking.push(`${name}: a declared, described success response`);
        }
        for (const [status, response] of successes) {
          if (status === '204' || status === '302' || status === '304') continue;
          const schemas = Object.values<any>(response.content ?? {}).map((media) => media.schema);
          if (schemas.length === 0 || schemas.some((schema) => schema === undefined)) {
            lacking.push(`${name}: a schema of its ${status}`);
          }
          const json = response.content?.['application/json']?.schema;
          // Open, so Fastify's serializer never drops a field a handler sends.
          if (json && json.additionalProperties !== true) {
            lacking.push(`${name}: an open ${status} object`);
          }
        }
      }
    }
    assert.deepEqual(lacking, [], 'operations described incompletely');
  });

  it("lists the seed's documented fields of the main responses", () => {
    const properties = (path: string, method: string, status: string) =>
      Object.keys(
        doc.paths[path][method].responses[status].content['application/json'].schema.properties,
      );
    const expected: [string, string, string, string[]][] = [
      [
        '/api/v1/streams/start',
        'post',
        '201',
        ['recording_id', 'stream_id', 'status', 'max_viewers', 'profiles'],
      ],
      [
        '/api/v1/streams/{recording_id}',
        'post',
        '201',
        [
          'recording_id',
          'viewer_id',
          'session_id',
          'current_bitrate',
          'buffer_health',
          'playback_url',
        ],
      ],
      [
        '/api/v1/streams/{recording_id}',
        'get',
        '200',
        [
          'recording_id',
          'active_viewers',
          'peak_viewers',
          'total_segments_served',
          'total_bytes_served',
          'viewers',
          'next_cursor',
        ],
      ],
      [
        '/api/v1/streams/{recording_id}',
        'delete',
        '200',
        ['recording_id', 'viewer_id', 'segments_received', 'bytes_received'],
      ],
      [
        '/api/v1/viewers/adapt-quality',
        'post',
        '200',
        [
          'recording_id',
          'viewer_id',
          'previous_bitrate',
          'new_bitrate',
          'buffer_health',
          'connection_quality',
        ],
      ],
      [
        '/api/v1/segments/deliver',
        'post',
        '202',
        ['delivery_id', 'recording_id', 'viewer_id', 'segment_id', 'status'],
      ],
      [
        '/api/v1/distribution/metrics',
        'get',
        '200',
        [
          'total_distributors',
          'total_active_viewers',
          'total_segments_served',
          'total_bytes_served',
          'total_delivery_failures',
          'cdn_cache_hit_rate',
        ],
      ],
      ['/api/v1/distribution/health', 'get', '200', ['status', 'reasons']],
    ];
    for (const [path, method, status, fields] of expected) {
      const listed = properties(path, method, status);
      for (const field of [...fields, 'message', 'timestamp']) {
        assert.ok(listed.includes(field), `${method} ${path} ${status} lists ${field}: ${listed}`);
      }
    }
    const row =
      doc.paths['/api/v1/streams/{recording_id}'].get.responses['200'].content['application/json']
        .schema.properties.viewers.items;
    for (const field of [
      'viewer_id',
      'current_bitrate',
      'segments_received',
      'bytes_received',
      'buffer_health',
      'connection_quality',
      'duration',
    ]) {
      assert.ok(field in row.properties, `a viewer row lists ${field}`);
    }
  });

  it('describes each success and the JSON error body of every operation', () => {
    const envelope = doc.components.schemas.ErrorEnvelope;
    assert.deepEqual(envelope.required.sort(), ['error', 'message', 'timestamp']);
    assert.ok(envelope.properties.error.properties.code.enum.includes('METHOD_NOT_ALLOWED'));
    for (const [path, item] of Object.entries<Record<string, any>>(doc.paths)) {
      for (const [method, operation] of Object.entries<any>(item)) {
        const statuses = Object.keys(operation.responses);
        assert.ok(
          statuses.some((s) => /^[23]\d\d$/.test(s)),
          `${method} ${path}: a success (${statuses})`,
        );
        for (const range of ['4XX', '5XX']) {
          assert.equal(
            operation.responses[range]?.content?.['application/json']?.schema?.$ref,
            '#/components/schemas/ErrorEnvelope',
            `${method} ${path}: ${range}`,
          );
        }
      }
    }
    const start = doc.paths['/api/v1/streams/start'].post;
    assert.ok(start.responses['201'].headers.location, 'a 201 names its Location');
    assert.deepEqual(start.requestBody.content['application/json'].schema.required, [
      'recording_id',
    ]);
    assert.equal(start.requestBody.content['application/json'].schema.additionalProperties, false);
    assert.ok(doc.paths['/api/v1/segments/deliver'].post.responses['202'].headers.location);
    assert.ok(
      doc.paths['/live/{recording_id}/master.m3u8'].get.responses['200'].content[
        'application/vnd.apple.mpegurl'
      ],
    );
  });

  it('marks exactly the operations that need the admin token with the bearer scheme', async () => {
    assert.deepEqual(doc.components.securitySchemes.adminToken, {
      type: 'http',
      scheme: 'bearer',
      description: doc.components.securitySchemes.adminToken.description,
    });
    // Ask the server which operations refuse a caller without the token.
    const probes: [string, string, unknown][] = [
      ['post', '/api/v1/streams/start', { recording_id: 'x' }],
      ['post', '/api/v1/streams/{recording_id}/end', undefined],
      ['post', '/api/v1/segments/deliver', { recording_id: 'x', viewer_id: 'v', segment_id: 's' }],
      ['put', '/api/v1/distribution/cdn', { enabled: false }],
      ['post', '/api/v1/transcode/start', { recording_id: 'x' }],
      ['post', '/api/v1/transcode/{job_id}/stop', undefined],
      ['delete', '/api/v1/recordings/{recording_id}', undefined],
      ['get', '/api/v1/streams/{recording_id}/report', undefined],
      ['get', '/api/v1/streams/{recording_id}/ingest', undefined],
      ['get', '/api/v1/recordings', undefined],
      ['get', '/api/v1/streams', undefined],
      ['get', '/api/v1/distribution/metrics', undefined],
      ['get', '/api/v1/transcode', undefined],
      ['post', '/api/v1/streams/{recording_id}', { viewer_id: 'v' }],
    ];
    for (const [method, path, body] of probes) {
      const res = await fetch(`${base}${path.replace(/\{[a-z_]+\}/g, 'x')}`, {
        method: method.toUpperCase(),
        ...(body !== undefined && {
          body: JSON.stringify(body),
          headers: { 'content-type': 'application/json' },
        }),
      });
      const answer = await res.json();
      const needsAdmin = answer.error?.code === 'ADMIN_TOKEN_REQUIRED';
      const marked = adminOnly(doc.paths[path][method]);
      assert.equal(marked, needsAdmin, `${method} ${path}: marked ${marked}, server ${res.status}`);
    }
    const markedCount = Object.values<Record<string, any>>(doc.paths)
      .flatMap((item) => Object.values<any>(item))
      .filter(adminOnly).length;
    assert.equal(markedCount, 9, 'the nine operator operations, no more');
  });

  it("names a viewer's session on the operations that take it, and the publish key on ingest", async () => {
    assert.equal(doc.components.securitySchemes.viewerSession.scheme, 'bearer');
    assert.equal(doc.components.securitySchemes.publishKey.scheme, 'bearer');
    assert.deepEqual(
      { in: doc.components.securitySchemes.publishKeyQuery.in, name: 'key' },
      { in: 'query', name: doc.components.securitySchemes.publishKeyQuery.name },
    );
    const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
    await call(
      `${base}/api/v1/streams/start`,
      'POST',
      { recording_id: 'sec', publish_key: 'sec-push-key-0123' },
      admin,
    );
    await call(`${base}/api/v1/streams/sec`, 'POST', { viewer_id: 'v' });
    // Ask the server which operations want a viewer's session and which the publish key.
    const probes: [string, string, string, unknown][] = [
      [
        'get',
        '/api/v1/streams/{recording_id}/viewers/{viewer_id}',
        '/api/v1/streams/sec/viewers/v',
        undefined,
      ],
      [
        'get',
        '/api/v1/streams/{recording_id}/viewers/{viewer_id}/next',
        '/api/v1/streams/sec/viewers/v/next',
        undefined,
      ],
      ['delete', '/api/v1/streams/{recording_id}', '/api/v1/streams/sec?viewer_id=v', undefined],
      [
        'post',
        '/api/v1/viewers/adapt-quality',
        '/api/v1/viewers/adapt-quality',
        { recording_id: 'sec', viewer_id: 'v', buffer_health: 50 },
      ],
      ['put', '/ingest/{recording_id}/{profile}/{file}', '/ingest/sec/Low/seg_0.ts', 'bytes'],
      ['put', '/ingest/{recording_id}/{file}', '/ingest/sec/master.m3u8', '#EXTM3U\n'],
      ['delete', '/ingest/{recording_id}/{profile}/{file}', '/ingest/sec/Low/seg_0.ts', undefined],
    ];
    for (const [method, path, url, body] of probes) {
      const answer = await call(
        `${base}${url}`,
        method.toUpperCase(),
        body,
        typeof body === 'string' ? { 'content-type': 'application/octet-stream' } : {},
      );
      const security = JSON.stringify(doc.paths[path][method].security ?? []);
      if (answer.body.error.code === 'VIEWER_AUTH_REQUIRED') {
        assert.equal(security, '[{"viewerSession":[]},{"adminToken":[]}]', `${method} ${path}`);
      } else {
        assert.equal(answer.body.error.code, 'PUBLISH_KEY_REQUIRED', `${method} ${path}`);
        assert.equal(security, '[{"publishKey":[]},{"publishKeyQuery":[]}]', `${method} ${path}`);
      }
    }
    // Statistics answer anyone; a credential shows rows.
    const stats = await call(`${base}/api/v1/streams/sec`, 'GET');
    assert.equal(stats.status, 200);
    assert.deepEqual(stats.body.viewers, []);
    assert.deepEqual(doc.paths['/api/v1/streams/{recording_id}'].get.security, [
      {},
      { viewerSession: [] },
      { adminToken: [] },
    ]);
  });

  it('serves a docs page whose scripts and styles all come from this server', async () => {
    const page = await fetch(`${base}/api/docs`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    const html = await page.text();
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] as string);
    assert.ok(
      assets.some((a) => a.endsWith('swagger-ui-bundle.js')),
      html,
    );
    for (const asset of assets) {
      assert.doesNotMatch(asset, /^(https?:)?\/\//, `${asset} loads from elsewhere`);
      const res = await fetch(new URL(asset, `${base}/api/docs`));
      await res.arrayBuffer();
      assert.equal(res.status, 200, asset);
    }
    const initializer = await (
      await fetch(`${base}/api/docs/static/swagger-initializer.js`)
    ).text();
    assert.match(initializer, /\.\/json/, 'the page reads the document this server generates');
    const served = await (await fetch(`${base}/api/docs/json`)).json();
    assert.deepEqual(served, doc);
  });
});

describe('the response schemas', () => {
  it("never change a body: Fastify's serializer writes what each JSON handler returns", async () => {
    // A data directory, so recordings exist to be listed, read and deleted.
    const dataDir = await mkdtemp(path.join(tmpdir(), 'vtp-openapi-'));
    const runtime = createRuntime({
      dataDir,
      logger: false,
      adminToken: ADMIN_TOKEN,
      http: { apiRateLimit: 0, joinRateLimit: 0 },
      encoders: { ffmpeg: '/nonexistent/vtp-test-ffmpeg' },
      // Stream keys and their publish URLs are answered only with publishing on.
      publishing: { host: '127.0.0.1', rtmpPort: await freePort() },
    });
    const returned = new WeakMap<object, string>();
    const compared = new Set<string>();
    const changed: string[] = [];
    runtime.app.addHook('preSerialization', async (request, _reply, payload) => {
      returned.set(request, JSON.stringify(payload));
      return payload;
    });
    runtime.app.addHook('onSend', async (request, reply, payload) => {
      const expected = returned.get(request);
      if (expected !== undefined && typeof payload === 'string') {
        const operation = `${request.method} ${request.routeOptions.url}`;
        compared.add(operation);
        if (!isDeepStrictEqual(JSON.parse(payload), JSON.parse(expected))) {
          changed.push(`${operation} ${reply.statusCode}: ${payload} instead of ${expected}`);
        }
      }
      return payload;
    });
    const base = await runtime.listen('127.0.0.1', 0);
    try {
      const api = `${base}/api/v1`;
      const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
      const key = 'shape-push-key-0123';
      await call(
        `${api}/streams/start`,
        'POST',
        { recording_id: 'shape', publish_key: key },
        admin,
      );
      const joined = await call(`${api}/streams/shape`, 'POST', { viewer_id: 'a' });
      await call(`${api}/streams/shape`, 'POST', { viewer_id: 'b', initial_bitrate: 'High' });
      const viewer = { authorization: `Bearer ${joined.body.session_id}` };
      for (const p of ALL_PROFILES) runtime.service.addSegmentToStream('shape', segmentInput(0, p));
      await call(`${api}/streams/start`, 'POST', { recording_id: 'obs', stream_key: true }, admin);
      await call(`${api}/streams/obs/ingest`, 'GET', undefined, admin);
      await call(`${api}/streams`, 'GET');
      await call(`${api}/streams/shape?limit=1`, 'GET', undefined, admin);
      await call(`${api}/streams/shape`, 'GET');
      await call(`${api}/streams/shape/viewers/a`, 'GET', undefined, viewer);
      for (const buffer_health of [10, 95]) {
        const body = { recording_id: 'shape', viewer_id: 'a', buffer_health };
        await call(`${api}/viewers/adapt-quality`, 'POST', body, viewer);
      }
      const delivery = { recording_id: 'shape', viewer_id: 'a', segment_id: 'seg-0' };
      const queued = await call(`${api}/segments/deliver`, 'POST', delivery, admin);
      await call(`${api}/segments/deliveries/${queued.body.delivery_id}`, 'GET');
      await call(`${api}/distribution/metrics`, 'GET', undefined, admin);
      await call(`${api}/distribution/health`, 'GET');
      const cdn = { enabled: true, base_url: 'http://127.0.0.1:9/cdn' };
      await call(`${api}/distribution/cdn`, 'PUT', cdn, admin);
      await call(`${api}/distribution/cdn`, 'PUT', { enabled: false }, admin);
      const encoder = await call(`${api}/transcode/start`, 'POST', { recording_id: 'enc' }, admin);
      await call(`${api}/transcode`, 'GET', undefined, admin);
      await call(`${api}/transcode/${encoder.body.job_id}`, 'GET');
      await call(`${api}/transcode/${encoder.body.job_id}/stop`, 'POST', undefined, admin);
      const push = { 'content-type': 'application/octet-stream', authorization: `Bearer ${key}` };
      await call(`${base}/ingest/shape/Low/seg_0.ts`, 'PUT', 'bytes', push);
      await call(`${base}/ingest/shape/master.m3u8`, 'PUT', '#EXTM3U\n', push);
      await call(`${api}/streams/shape?viewer_id=b`, 'DELETE', undefined, admin);
      await call(`${api}/streams/shape/end`, 'POST', undefined, admin);
      await call(`${api}/streams/shape/report`, 'GET', undefined, admin);
      await pushSegments(base, 'rec', 'Low', 0, 2);
      await call(`${api}/streams/rec/end`, 'POST', undefined, admin);
      await call(`${api}/recordings`, 'GET');
      await call(`${api}/recordings/rec`, 'GET');
      await call(`${api}/recordings/rec`, 'DELETE', undefined, admin);
      await call(`${base}/livez`, 'GET');
      await call(`${base}/readyz`, 'GET');
      const doc = (await call(`${api}/openapi.json`, 'GET')).body;
      assert.deepEqual(changed, [], 'bodies the serializer changed');
      // Every operation that answers JSON was compared, so none escaped the check.
      const json = Object.entries<Record<string, any>>(doc.paths).flatMap(([path, item]) =>
        Object.entries<any>(item)
          .filter(([, op]) =>
            Object.entries<any>(op.responses).some(
              ([status, r]) => /^2/.test(status) && r.content?.['application/json'],
            ),
          )
          .map(([method]) => `${method.toUpperCase()} ${path.replace(/\{([a-z_]+)\}/g, ':$1')}`),
      );
      assert.deepEqual(
        json.filter((operation) => !compared.has(operation)),
        [],
        'JSON operations not exercised',
      );
      assert.ok(compared.size >= 20, [...compared].join('\n'));
    } finally {
      await runtime.close(1000);
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
