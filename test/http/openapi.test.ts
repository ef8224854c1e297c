import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import SwaggerParser from '@apidevtools/swagger-parser';
import { createRuntime, type Runtime } from '../../src/server.js';

const ADMIN_TOKEN = 'openapi-admin-token-0123456789';

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
      const marked = JSON.stringify(doc.paths[path][method].security ?? []).includes('adminToken');
      assert.equal(marked, needsAdmin, `${method} ${path}: marked ${marked}, server ${res.status}`);
    }
    const markedCount = Object.values<Record<string, any>>(doc.paths)
      .flatMap((item) => Object.values<any>(item))
      .filter((op) => JSON.stringify(op.security ?? []).includes('adminToken')).length;
    assert.equal(markedCount, 6, 'the six operator operations, no more');
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
