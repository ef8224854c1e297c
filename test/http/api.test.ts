import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { call, startFakeCdn, startTestServer, type TestServer } from '../helpers/http.js';
import { ALL_PROFILES, segmentInput } from '../helpers/segments.js';

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

let server: TestServer;
let api: string;
before(async () => {
  server = await startTestServer({ backoff: { minMs: 5, maxMs: 20, factor: 2 } });
  api = `${server.url}/api/v1`;
});
after(() => server.close());

function publish(rec: string, from: number, to: number): void {
  for (let i = from; i < to; i++) {
    for (const p of ALL_PROFILES) server.service.addSegmentToStream(rec, segmentInput(i, p));
  }
}

async function deliveryState(id: string): Promise<string> {
  for (let i = 0; i < 500; i++) {
    const { body } = await call(`${api}/segments/deliveries/${id}`, 'GET');
    if (body.status === 'delivered' || body.status === 'failed') return body.status;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error('delivery did not settle');
}

describe('control API', () => {
  it('POST /streams/start starts a stream with the seed response fields', async () => {
    const res = await call(`${api}/streams/start`, 'POST', {
      recording_id: 'rec-123',
      max_viewers: 50,
    });
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('location'), '/api/v1/streams/rec-123');
    assert.equal(res.body.recording_id, 'rec-123');
    assert.equal(res.body.stream_id, 'stream-rec-123');
    assert.equal(res.body.status, 'started');
    assert.equal(res.body.max_viewers, 50);
    assert.deepEqual(res.body.profiles, ['VeryLow', 'Low', 'Medium', 'High']);
    assert.equal(res.body.message, 'Live stream started successfully');
    assert.match(res.body.timestamp, RFC3339);
    const dup = await call(`${api}/streams/start`, 'POST', { recording_id: 'rec-123' });
    assert.equal(dup.status, 409);
    assert.equal(dup.body.error.code, 'STREAM_EXISTS');
    assert.equal(dup.body.error.field, 'recording_id');
  });

  it('POST /streams/{id} joins a viewer with the seed response fields', async () => {
    await call(`${api}/streams/start`, 'POST', { recording_id: 'join' });
    const res = await call(`${api}/streams/join`, 'POST', {
      viewer_id: 'viewer-456',
      initial_bitrate: 'Low',
    });
    assert.equal(res.status, 201);
    assert.equal(res.body.recording_id, 'join');
    assert.equal(res.body.viewer_id, 'viewer-456');
    assert.match(res.body.session_id, /^vs-[A-Za-z0-9_-]{22}$/);
    assert.equal(res.body.current_bitrate, 'Low');
    assert.equal(res.body.buffer_health, 50);
    assert.equal(res.body.message, 'Viewer joined successfully');
    const dflt = await call(`${api}/streams/join`, 'POST', { viewer_id: 'no-bitrate' });
    assert.equal(dflt.body.current_bitrate, 'Low');
    const again = await call(`${api}/streams/join`, 'POST', { viewer_id: 'viewer-456' });
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, 'VIEWER_EXISTS');
  });

  it('refuses a join beyond max_viewers with 503 and a clear body', async () => {
    await call(`${api}/streams/start`, 'POST', { recording_id: 'full', max_viewers: 1 });
    assert.equal((await call(`${api}/streams/full`, 'POST', { viewer_id: 'a' })).status, 201);
    const res = await call(`${api}/streams/full`, 'POST', { viewer_id: 'b' });
    assert.equal(res.status, 503);
    assert.equal(res.body.error.code, 'STREAM_FULL');
    assert.match(res.body.error.message, /max_viewers 1/);
    assert.equal(res.headers.get('retry-after'), '1');
  });

  it('GET /streams/{id} returns statistics with per-viewer rows that match what was served', async () => {
    await call(`${api}/streams/start`, 'POST', { recording_id: 'stats' });
    publish('stats', 0, 6);
    await call(`${api}/streams/stats`, 'POST', { viewer_id: 'a', initial_bitrate: 'Medium' });
    await call(`${api}/streams/stats`, 'POST', { viewer_id: 'b', initial_bitrate: 'VeryLow' });
    let received = 0;
    for (let i = 0; i < 3; i++) {
      const r = await fetch(`${api}/streams/stats/viewers/a/next`);
      received += (await r.arrayBuffer()).byteLength;
    }
    const res = await call(`${api}/streams/stats`, 'GET');
    assert.equal(res.status, 200);
    assert.equal(res.body.active_viewers, 2);
    assert.equal(res.body.peak_viewers, 2);
    assert.equal(res.body.total_segments_served, 3);
    assert.equal(res.body.total_bytes_served, received);
    const a = res.body.viewers.find((v: any) => v.viewer_id === 'a');
    assert.deepEqual(
      {
        current_bitrate: a.current_bitrate,
        segments_received: a.segments_received,
        bytes_received: a.bytes_received,
        buffer_health: a.buffer_health,
        connection_quality: a.connection_quality,
      },
      {
        current_bitrate: 'Medium',
        segments_received: 3,
        bytes_received: received,
        buffer_health: 50,
        connection_quality: 'good',
      },
    );
    assert.match(a.duration, /^(\d+h)?(\d+m)?\d+s$/);
    assert.equal(res.body.message, 'Statistics retrieved successfully');
  });

  it('DELETE /streams/{id}?viewer_id= removes the viewer', async () => {
    await call(`${api}/streams/start`, 'POST', { recording_id: 'leave' });
    await call(`${api}/streams/leave`, 'POST', { viewer_id: 'a' });
    const res = await call(`${api}/streams/leave?viewer_id=a`, 'DELETE');
    assert.equal(res.status, 200);
    assert.equal(res.body.viewer_id, 'a');
    assert.equal((await call(`${api}/streams/leave`, 'GET')).body.active_viewers, 0);
    const gone = await call(`${api}/streams/leave?viewer_id=a`, 'DELETE');
    assert.equal(gone.status, 404);
    assert.equal(gone.body.error.code, 'VIEWER_NOT_FOUND');
    assert.equal(gone.body.error.field, 'viewer_id');
  });

  it('GET .../viewers/{viewer}/next returns segment bytes with headers, then 204 after the long-poll', async () => {
    await call(`${api}/streams/start`, 'POST', { recording_id: 'next' });
    publish('next', 0, 2);
    await call(`${api}/streams/next`, 'POST', { viewer_id: 'v', initial_bitrate: 'High' });
    const first = await fetch(`${api}/streams/next/viewers/v/next`);
    const body = new Uint8Array(await first.arrayBuffer());
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('content-type'), 'video/mp2t');
    assert.equal(first.headers.get('x-segment-id'), 'seg-0');
    assert.equal(first.headers.get('x-segment-sequence'), '0');
    assert.equal(first.headers.get('x-segment-profile'), 'High');
    assert.equal(first.headers.get('x-segment-duration'), '2');
    assert.deepEqual(body, segmentInput(0, 'High').data);
    assert.equal(
      (await fetch(`${api}/streams/next/viewers/v/next`)).headers.get('x-segment-id'),
      'seg-1',
    );
    const edge = await fetch(`${api}/streams/next/viewers/v/next?wait_ms=50`);
    assert.equal(edge.status, 204);
    assert.equal(edge.headers.get('x-stream-status'), 'live');
    const waiting = fetch(`${api}/streams/next/viewers/v/next?wait_ms=5000`);
    setTimeout(() => publish('next', 2, 3), 50);
    const woken = await waiting;
    assert.equal(woken.status, 200);
    assert.equal(woken.headers.get('x-segment-id'), 'seg-2');
    await woken.arrayBuffer();
  });

  it('POST /segments/deliver queues with 202; the worker hands the segment over; /next returns it first', async () => {
    await call(`${api}/streams/start`, 'POST', { recording_id: 'dlv' });
    publish('dlv', 0, 8);
    await call(`${api}/streams/dlv`, 'POST', { viewer_id: 'v', initial_bitrate: 'Medium' });
    const res = await call(`${api}/segments/deliver`, 'POST', {
      recording_id: 'dlv',
      viewer_id: 'v',
      segment_id: 'seg-2',
      priority: 8,
    });
    assert.equal(res.status, 202);
    assert.match(res.body.delivery_id, /^dl-[A-Za-z0-9_-]{22}$/);
    assert.equal(
      res.headers.get('location'),
      `/api/v1/segments/deliveries/${res.body.delivery_id}`,
    );
    assert.equal(res.body.status, 'queued');
    assert.equal(res.body.bitrate, 'Medium');
    assert.equal(res.body.priority, 8);
    assert.equal(await deliveryState(res.body.delivery_id), 'delivered');
    const stats = (await call(`${api}/streams/dlv`, 'GET')).body;
    assert.equal(stats.total_segments_served, 1, 'counted when handed over');
    const next = await fetch(`${api}/streams/dlv/viewers/v/next`);
    assert.equal(next.headers.get('x-segment-id'), 'seg-2');
    assert.equal(next.headers.get('x-segment-profile'), 'Medium');
    await next.arrayBuffer();
    assert.equal(
      (await call(`${api}/streams/dlv`, 'GET')).body.total_segments_served,
      1,
      'not counted twice',
    );
    const missing = await call(`${api}/segments/deliver`, 'POST', {
      recording_id: 'dlv',
      viewer_id: 'v',
      segment_id: 'seg-99',
    });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.field, 'segment_id');
    const unknown = await call(`${api}/segments/deliveries/dl-nope`, 'GET');
    assert.equal(unknown.status, 404);
  });

  it('POST /viewers/adapt-quality applies the seed policy and reports connection quality', async () => {
    await call(`${api}/streams/start`, 'POST', { recording_id: 'adapt' });
    await call(`${api}/streams/adapt`, 'POST', { viewer_id: 'v', initial_bitrate: 'High' });
    const down = await call(`${api}/viewers/adapt-quality`, 'POST', {
      recording_id: 'adapt',
      viewer_id: 'v',
      buffer_health: 19.9,
    });
    assert.equal(down.status, 200);
    assert.deepEqual(
      [
        down.body.previous_bitrate,
        down.body.new_bitrate,
        down.body.switched,
        down.body.connection_quality,
      ],
      ['High', 'VeryLow', true, 'poor'],
    );
    const hold = await call(`${api}/viewers/adapt-quality`, 'POST', {
      recording_id: 'adapt',
      viewer_id: 'v',
      buffer_health: 85,
    });
    assert.deepEqual([hold.body.new_bitrate, hold.body.switched], ['VeryLow', false]);
    const up = await call(`${api}/viewers/adapt-quality`, 'POST', {
      recording_id: 'adapt',
      viewer_id: 'v',
      buffer_health: 85.1,
    });
    assert.deepEqual([up.body.new_bitrate, up.body.connection_quality], ['Low', 'excellent']);
    const stats = (await call(`${api}/streams/adapt`, 'GET')).body;
    assert.deepEqual(
      stats.viewers[0].bitrate_history.map((h: any) => [h.from, h.to, h.reason]),
      [
        ['High', 'VeryLow', 'adaptation'],
        ['VeryLow', 'Low', 'adaptation'],
      ],
    );
  });

  it('POST /streams/{id}/end ends the stream; joins are then refused', async () => {
    await call(`${api}/streams/start`, 'POST', { recording_id: 'ending' });
    const res = await call(`${api}/streams/ending/end`, 'POST');
    assert.equal(res.status, 200);
    assert.equal(res.body.status, 'ended');
    const join = await call(`${api}/streams/ending`, 'POST', { viewer_id: 'late' });
    assert.equal(join.status, 409);
    assert.equal(join.body.error.code, 'STREAM_ENDED');
    assert.equal((await call(`${api}/streams/ending/end`, 'POST')).status, 409);
  });

  it('GET /distribution/metrics reports real totals and a CDN hit rate from real counts', async () => {
    const cdn = await startFakeCdn();
    try {
      const before = (await call(`${api}/distribution/metrics`, 'GET')).body;
      assert.equal(before.cdn_cache_hit_rate, 0);
      assert.equal(
        (await call(`${api}/distribution/cdn`, 'PUT', { enabled: true, base_url: cdn.url })).status,
        200,
      );
      await call(`${api}/streams/start`, 'POST', { recording_id: 'cdn' });
      publish('cdn', 0, 1);
      for (const v of ['a', 'b', 'c', 'd']) {
        await call(`${api}/streams/cdn`, 'POST', { viewer_id: v, initial_bitrate: 'Low' });
        const { body } = await call(`${api}/segments/deliver`, 'POST', {
          recording_id: 'cdn',
          viewer_id: v,
          segment_id: 'seg-0',
        });
        assert.equal(await deliveryState(body.delivery_id), 'delivered');
      }
      const m = (await call(`${api}/distribution/metrics`, 'GET')).body;
      assert.equal(m.cdn_enabled, true);
      assert.equal(m.cdn_cache_hit_rate, 0.75);
      assert.equal(cdn.requests.length, 1);
      assert.equal(m.total_segments_served - before.total_segments_served, 4);
      assert.equal(
        m.total_bytes_served - before.total_bytes_served,
        4 * segmentInput(0, 'Low').data.byteLength,
      );
      for (const key of ['total_distributors', 'total_active_viewers', 'total_delivery_failures']) {
        assert.equal(typeof m[key], 'number', key);
      }
      assert.equal(m.message, 'Metrics retrieved successfully');
      assert.equal(
        (await call(`${api}/distribution/cdn`, 'PUT', { enabled: false })).body.cdn_enabled,
        false,
      );
    } finally {
      await cdn.close();
    }
  });

  it('GET /metrics exposes the same figures in the Prometheus text format', async () => {
    const json = (await call(`${api}/distribution/metrics`, 'GET')).body;
    const res = await fetch(`${server.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    assert.match(
      text,
      new RegExp(`^vtp_segments_served_total ${json.total_segments_served}$`, 'm'),
    );
    assert.match(text, new RegExp(`^vtp_bytes_served_total ${json.total_bytes_served}$`, 'm'));
    assert.match(text, /^vtp_viewers\{stream="stats",profile="Medium"\} 1$/m);
  });

  it('GET /distribution/health reports healthy', async () => {
    const res = await call(`${api}/distribution/health`, 'GET');
    assert.equal(res.status, 200);
    assert.equal(res.body.status, 'healthy');
    assert.match(res.body.timestamp, RFC3339);
  });
});

describe('bad input', () => {
  before(async () => {
    await call(`${api}/streams/start`, 'POST', { recording_id: 'bad' });
    await call(`${api}/streams/bad`, 'POST', { viewer_id: 'v' });
  });

  const cases: [string, string, string, unknown, number, string | undefined, string?][] = [
    ['malformed JSON', 'POST', '/streams/start', '{"recording_id":', 400, 'body', 'INVALID_JSON'],
    ['empty JSON body', 'POST', '/streams/start', '', 400, 'body'],
    ['missing recording_id', 'POST', '/streams/start', {}, 400, 'recording_id', 'INVALID_REQUEST'],
    [
      'recording_id of wrong type',
      'POST',
      '/streams/start',
      { recording_id: 7 },
      400,
      'recording_id',
    ],
    [
      'recording_id with a path',
      'POST',
      '/streams/start',
      { recording_id: '../etc' },
      400,
      'recording_id',
    ],
    [
      'reserved recording_id',
      'POST',
      '/streams/start',
      { recording_id: 'start' },
      400,
      'recording_id',
    ],
    [
      'max_viewers zero',
      'POST',
      '/streams/start',
      { recording_id: 'x1', max_viewers: 0 },
      400,
      'max_viewers',
    ],
    [
      'max_viewers fractional',
      'POST',
      '/streams/start',
      { recording_id: 'x2', max_viewers: 1.5 },
      400,
      'max_viewers',
    ],
    [
      'max_viewers as string',
      'POST',
      '/streams/start',
      { recording_id: 'x3', max_viewers: '10' },
      400,
      'max_viewers',
    ],
    ['body an array', 'POST', '/streams/start', [], 400, 'body'],
    [
      'an unknown field (a typo of max_viewers)',
      'POST',
      '/streams/start',
      { recording_id: 'x4', maxViewers: 5 },
      400,
      'maxViewers',
      'INVALID_REQUEST',
    ],
    [
      'unknown profile',
      'POST',
      '/streams/bad',
      { viewer_id: 'w', initial_bitrate: 'Ultra' },
      400,
      'initial_bitrate',
    ],
    ['missing viewer_id', 'POST', '/streams/bad', {}, 400, 'viewer_id'],
    [
      'join unknown stream',
      'POST',
      '/streams/nope',
      { viewer_id: 'w' },
      404,
      'recording_id',
      'STREAM_NOT_FOUND',
    ],
    ['stats of unknown stream', 'GET', '/streams/nope', undefined, 404, 'recording_id'],
    ['leave without viewer_id', 'DELETE', '/streams/bad', undefined, 400, 'viewer_id'],
    ['leave unknown viewer', 'DELETE', '/streams/bad?viewer_id=zz', undefined, 404, 'viewer_id'],
    [
      'buffer_health above 100',
      'POST',
      '/viewers/adapt-quality',
      { recording_id: 'bad', viewer_id: 'v', buffer_health: 100.5 },
      400,
      'buffer_health',
    ],
    [
      'buffer_health below 0',
      'POST',
      '/viewers/adapt-quality',
      { recording_id: 'bad', viewer_id: 'v', buffer_health: -1 },
      400,
      'buffer_health',
    ],
    [
      'buffer_health as string',
      'POST',
      '/viewers/adapt-quality',
      { recording_id: 'bad', viewer_id: 'v', buffer_health: '50' },
      400,
      'buffer_health',
    ],
    [
      'buffer_health null',
      'POST',
      '/viewers/adapt-quality',
      { recording_id: 'bad', viewer_id: 'v', buffer_health: null },
      400,
      'buffer_health',
    ],
    [
      'adapt unknown viewer',
      'POST',
      '/viewers/adapt-quality',
      { recording_id: 'bad', viewer_id: 'zz', buffer_health: 50 },
      404,
      'viewer_id',
    ],
    [
      'deliver unknown segment',
      'POST',
      '/segments/deliver',
      { recording_id: 'bad', viewer_id: 'v', segment_id: 's' },
      404,
      'segment_id',
    ],
    [
      'deliver priority out of range',
      'POST',
      '/segments/deliver',
      { recording_id: 'bad', viewer_id: 'v', segment_id: 's', priority: 11 },
      400,
      'priority',
    ],
    [
      'deliver missing segment_id',
      'POST',
      '/segments/deliver',
      { recording_id: 'bad', viewer_id: 'v' },
      400,
      'segment_id',
    ],
    ['next for unknown viewer', 'GET', '/streams/bad/viewers/zz/next', undefined, 404, 'viewer_id'],
    [
      'next with bad wait_ms',
      'GET',
      '/streams/bad/viewers/v/next?wait_ms=-5',
      undefined,
      400,
      'wait_ms',
    ],
    ['end unknown stream', 'POST', '/streams/nope/end', undefined, 404, 'recording_id'],
    ['CDN enable without URL', 'PUT', '/distribution/cdn', { enabled: true }, 400, 'base_url'],
    [
      'CDN enable with a non-http URL',
      'PUT',
      '/distribution/cdn',
      { enabled: true, base_url: 'ftp://x' },
      400,
      'base_url',
    ],
  ];
  for (const [name, method, path, body, status, field, code] of cases) {
    it(`answers ${name} with ${status} naming ${field}`, async () => {
      const init: RequestInit = { method };
      if (body !== undefined) {
        init.body = typeof body === 'string' ? body : JSON.stringify(body);
        init.headers = { 'content-type': 'application/json' };
      }
      const res = await fetch(`${api}${path}`, init);
      const json = (await res.json()) as any;
      assert.equal(res.status, status, JSON.stringify(json));
      assert.equal(json.error.field, field);
      assert.equal(typeof json.error.message, 'string');
      assert.match(json.timestamp, RFC3339);
      if (code) assert.equal(json.error.code, code);
    });
  }

  it('answers a body over the limit with 413', async () => {
    const res = await call(
      `${api}/streams/start`,
      'POST',
      JSON.stringify({ recording_id: 'x'.repeat(100_000) }),
    );
    assert.equal(res.status, 413);
    assert.equal(res.body.error.code, 'BODY_TOO_LARGE');
  });

  it('answers a non-JSON content type with 415', async () => {
    const res = await call(`${api}/streams/start`, 'POST', 'recording_id=x', {
      'content-type': 'text/plain',
    });
    assert.equal(res.status, 415);
    assert.equal(res.body.error.code, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('answers an unknown route with a JSON 404', async () => {
    const res = await call(`${api}/nothing-here`, 'GET');
    assert.equal(res.status, 404);
    assert.equal(res.body.error.code, 'ROUTE_NOT_FOUND');
  });

  it('answers a known route asked with a wrong method with a JSON 405 and Allow', async () => {
    const res = await call(`${api}/streams`, 'DELETE');
    assert.equal(res.status, 405);
    assert.equal(res.body.error.code, 'METHOD_NOT_ALLOWED');
    assert.equal(res.headers.get('allow'), 'GET, HEAD');
  });

  it('answers a full delivery queue with 503, keeping every accepted delivery', async () => {
    const small = await startTestServer({ workers: 1, queueCapacity: 2 });
    const cdn = await startFakeCdn(() => new Promise((r) => setTimeout(() => r(201), 100)));
    try {
      const base = `${small.url}/api/v1`;
      await call(`${base}/distribution/cdn`, 'PUT', { enabled: true, base_url: cdn.url });
      await call(`${base}/streams/start`, 'POST', { recording_id: 'q' });
      for (let i = 0; i < 5; i++) small.service.addSegmentToStream('q', segmentInput(i, 'Low'));
      await call(`${base}/streams/q`, 'POST', { viewer_id: 'v' });
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) {
        const res = await call(`${base}/segments/deliver`, 'POST', {
          recording_id: 'q',
          viewer_id: 'v',
          segment_id: `seg-${i}`,
        });
        statuses.push(res.status);
        if (res.status === 503) assert.equal(res.body.error.code, 'QUEUE_FULL');
      }
      assert.deepEqual(statuses, [202, 202, 202, 503, 503], 'one running, two queued, then full');
      await small.service.shutdown(5000);
      const m = (await call(`${base}/distribution/metrics`, 'GET')).body;
      assert.equal(m.delivery_queue.delivered, 3);
      assert.equal(m.total_segments_served, 3);
    } finally {
      await cdn.close();
      await small.close();
    }
  });
});

describe('concurrency over HTTP', () => {
  it('keeps counters exact with hundreds of simultaneous joins and deliveries', async () => {
    await call(`${api}/streams/start`, 'POST', { recording_id: 'crowd', max_viewers: 400 });
    publish('crowd', 0, 4);
    const joins = await Promise.all(
      Array.from({ length: 450 }, (_, i) =>
        call(`${api}/streams/crowd`, 'POST', {
          viewer_id: `v${i}`,
          initial_bitrate: ALL_PROFILES[i % 4],
        }),
      ),
    );
    assert.equal(joins.filter((r) => r.status === 201).length, 400);
    assert.equal(joins.filter((r) => r.status === 503).length, 50);
    const sessions = new Set(joins.filter((r) => r.status === 201).map((r) => r.body.session_id));
    assert.equal(sessions.size, 400);
    const joined = joins.filter((r) => r.status === 201).map((r) => r.body);
    const deliveries = await Promise.all(
      joined.map((j) =>
        call(`${api}/segments/deliver`, 'POST', {
          recording_id: 'crowd',
          viewer_id: j.viewer_id,
          segment_id: 'seg-1',
        }),
      ),
    );
    assert.ok(deliveries.every((r) => r.status === 202));
    for (const d of deliveries) assert.equal(await deliveryState(d.body.delivery_id), 'delivered');
    const stats = (await call(`${api}/streams/crowd`, 'GET')).body;
    assert.equal(stats.active_viewers, 400);
    assert.equal(stats.peak_viewers, 400);
    assert.equal(stats.total_segments_served, 400);
    const expectedBytes = joined.reduce(
      (sum, j) => sum + segmentInput(1, j.current_bitrate).data.byteLength,
      0,
    );
    assert.equal(stats.total_bytes_served, expectedBytes);
    const perProfile = Object.values(stats.viewers_by_profile as Record<string, number>).reduce(
      (a, b) => a + b,
      0,
    );
    assert.equal(perProfile, 400);
  });
});
