import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import parsePrometheusTextFormat, { type PrometheusFamily } from 'parse-prometheus-text-format';
import { HTTP_DEFAULTS } from '../../src/http/app.js';
import { call, startTestServer, type TestServer } from '../helpers/http.js';
import { pushSegments } from '../helpers/push.js';
import { waitFor } from '../helpers/wait.js';

const PROFILES = ['VeryLow', 'Low', 'Medium', 'High'] as const;

async function scrape(server: TestServer): Promise<{ text: string; families: PrometheusFamily[] }> {
  const res = await fetch(`${server.url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  return { text, families: parsePrometheusTextFormat(text) };
}

function family(families: PrometheusFamily[], name: string): PrometheusFamily {
  const found = families.find((f) => f.name === name);
  assert.ok(found, `${name} is exposed (have: ${families.map((f) => f.name).join(', ')})`);
  return found;
}

interface Histogram {
  readonly type: string;
  /** Per label set (without `le`): its bucket counts by bound, and its count. */
  readonly series: Array<{
    labels: Record<string, string>;
    buckets: Map<string, number>;
    count: number;
  }>;
}

/**
 * A histogram's series. parse-prometheus-text-format folds a labelled histogram into one
 * sample without labels (its open issue #13), so the same parser reads the histogram's lines
 * again with the TYPE line dropped, which makes `_bucket` and `_count` plain labelled samples.
 */
function histogram(text: string, families: PrometheusFamily[], name: string): Histogram {
  const { type } = family(families, name);
  const untyped = parsePrometheusTextFormat(
    text
      .split('\n')
      .filter((line) => line.startsWith(`${name}_`))
      .map((line) => `${line}\n`)
      .join(''),
  );
  // Each label set comes as its own run of lines, hence its own family of the same name.
  const samples = (suffix: string) =>
    untyped.filter((f) => f.name === `${name}${suffix}`).flatMap((f) => f.metrics);
  const series: Histogram['series'] = [];
  for (const sample of samples('_count')) {
    const labels = sample.labels ?? {};
    const buckets = new Map<string, number>();
    for (const bucket of samples('_bucket')) {
      const { le, ...rest } = bucket.labels ?? {};
      if (le !== undefined && JSON.stringify(rest) === JSON.stringify(labels))
        buckets.set(le, Number(bucket.value));
    }
    series.push({ labels, buckets, count: Number(sample.value) });
  }
  return { type, series };
}

/** Every series of every counter, keyed by name and labels. */
function counterValues(families: PrometheusFamily[]): Map<string, number> {
  const values = new Map<string, number>();
  for (const f of families.filter((f) => f.type === 'COUNTER'))
    for (const m of f.metrics)
      values.set(`${f.name}${JSON.stringify(m.labels ?? {})}`, Number(m.value));
  return values;
}

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(() => server.close());

describe('GET /metrics', () => {
  it('parses as the Prometheus text format, with every *_total a counter and process and runtime metrics', async () => {
    const { families } = await scrape(server);
    assert.ok(families.length > 20, `${families.length} metric families`);
    for (const f of families.filter((f) => f.name.endsWith('_total')))
      assert.equal(f.type, 'COUNTER', `${f.name} is a ${f.type}`);
    for (const name of [
      'vtp_segments_served_total',
      'vtp_bytes_served_total',
      'vtp_delivery_failures_total',
    ])
      assert.equal(family(families, name).type, 'COUNTER');
    assert.ok(
      families.some((f) => f.name.startsWith('process_')),
      'process_* metrics',
    );
    assert.ok(
      families.some((f) => f.name.startsWith('nodejs_')),
      'nodejs_* metrics',
    );
    assert.equal(family(families, 'process_cpu_seconds_total').type, 'COUNTER');
    assert.equal(family(families, 'nodejs_eventloop_lag_seconds').type, 'GAUGE');
  });

  it('counts a live stream: segments published per rendition, ingest lag, viewers per profile, request durations by route', async () => {
    await pushSegments(server.url, 'lecture', 'Low', 0, 4);
    await pushSegments(server.url, 'lecture', 'High', 0, 2);
    // A segment whose playlist entry comes 300 ms after its bytes: its lag is that wait.
    const put = (file: string, body: BodyInit) =>
      fetch(`${server.url}/ingest/lecture/Medium/${file}`, { method: 'PUT', body });
    assert.equal((await put('seg_0.ts', new Uint8Array(4000).fill(7))).status, 201);
    await new Promise((r) => setTimeout(r, 300));
    const entry =
      '#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:2.000,\nseg_0.ts\n';
    assert.equal((await put('index.m3u8', entry)).status, 201);
    const joined = await call(`${server.url}/api/v1/streams/lecture`, 'POST', {
      viewer_id: 'student-7',
      initial_bitrate: 'Low',
    });
    assert.equal(joined.status, 201);
    const session = joined.body.session_id as string;
    const master = await fetch(`${server.url}/live/lecture/master.m3u8?session=${session}`);
    assert.equal(master.status, 200);
    const playlist = await fetch(`${server.url}/live/lecture/Low/index.m3u8?session=${session}`);
    const text = await playlist.text();
    const segment = text.split('\n').find((l) => l && !l.startsWith('#')) ?? '';
    const bytes = await fetch(new URL(segment, playlist.url));
    assert.equal(bytes.status, 200);
    await bytes.arrayBuffer();

    const scraped = await scrape(server);
    const { families } = scraped;
    const published = family(families, 'vtp_segments_published_total');
    const count = (profile: string) =>
      Number(
        published.metrics.find(
          (m) => m.labels?.stream === 'lecture' && m.labels?.profile === profile,
        )?.value,
      );
    assert.equal(count('Low'), 4);
    assert.equal(count('High'), 2);
    assert.equal(count('Medium'), 1);

    const lag = histogram(scraped.text, families, 'vtp_ingest_lag_seconds');
    assert.equal(lag.type, 'HISTOGRAM');
    const low = lag.series.find((m) => m.labels.profile === 'Low');
    assert.equal(low?.count, 4, 'one observation per segment ingest published');
    assert.ok((low?.buckets.size ?? 0) >= 5, 'the lag histogram has buckets');
    // Each pushed segment waited only for the playlist PUT right after it.
    assert.equal(low?.buckets.get('1'), 4, JSON.stringify([...(low?.buckets ?? [])]));
    const medium = lag.series.find((m) => m.labels.profile === 'Medium');
    assert.equal(medium?.count, 1);
    assert.equal(medium?.buckets.get('0.25'), 0, 'the 300 ms wait for the playlist is measured');
    assert.equal(medium?.buckets.get('2'), 1);

    const viewers = family(families, 'vtp_viewers');
    assert.equal(
      viewers.metrics.find((m) => m.labels?.stream === 'lecture' && m.labels?.profile === 'Low')
        ?.value,
      '1',
    );

    const durations = histogram(scraped.text, families, 'vtp_http_request_duration_seconds');
    assert.equal(durations.type, 'HISTOGRAM');
    const routes = new Set(durations.series.map((m) => m.labels.route));
    for (const route of [
      '/ingest/:recording_id/:profile/:file',
      '/live/:recording_id/master.m3u8',
      '/api/v1/streams/:recording_id',
    ])
      assert.ok(routes.has(route), `${route} in ${[...routes].join(', ')}`);
    const ingest = durations.series.find(
      (m) =>
        m.labels.route === '/ingest/:recording_id/:profile/:file' &&
        m.labels.method === 'PUT' &&
        m.labels.status_class === '2xx',
    );
    assert.equal(ingest?.count, 14, 'seven segments and seven playlists pushed');
    assert.ok((ingest?.buckets.size ?? 0) >= 10);
    assert.equal(ingest?.buckets.get('+Inf'), 14);
    const bounds = [...(ingest?.buckets.keys() ?? [])].filter((le) => le !== '+Inf').map(Number);
    assert.equal(
      Math.max(...bounds),
      HTTP_DEFAULTS.maxLongPollMs / 1000,
      'the longest bucket holds a full long poll',
    );
    const raises = family(families, 'vtp_target_duration_raises_total');
    assert.equal(raises.type, 'COUNTER');
    assert.equal(
      raises.metrics.find((m) => m.labels?.stream === 'lecture')?.value,
      '0',
      'a stream has its series from the start',
    );
    // No viewer, session or segment name ever becomes a label.
    for (const secretish of ['student-7', session, 'seg_0', segment.split('?')[0] ?? ''])
      assert.ok(!scraped.text.includes(secretish), `${secretish} appears in /metrics`);
  });

  it('keeps counters from going backwards across scrapes, also when a stream is removed', async () => {
    // Ended streams are removed once their last segment expired: a short retention.
    const server = await startTestServer({ retentionMs: 300, cleanupIntervalMs: 50 });
    try {
      await pushSegments(server.url, 'brief', 'Low', 0, 3);
      await call(`${server.url}/api/v1/streams/brief`, 'POST', { viewer_id: 'v' });
      await fetch(`${server.url}/api/v1/streams/brief/viewers/v/next?wait_ms=0`).then((r) =>
        r.arrayBuffer(),
      );
      const first = counterValues((await scrape(server)).families);
      assert.ok((first.get('vtp_segments_served_total{}') ?? 0) >= 1);
      assert.ok(first.has('vtp_segments_published_total{"stream":"brief","profile":"Low"}'));

      await call(`${server.url}/api/v1/streams/brief/end`, 'POST');
      await waitFor(
        async () =>
          (await call(`${server.url}/api/v1/streams/brief`, 'GET')).status === 404
            ? true
            : undefined,
        5000,
        'the ended stream to be removed',
        50,
      );
      const second = counterValues((await scrape(server)).families);
      for (const [series, value] of first) {
        if (series.includes('"stream":"brief"')) continue;
        assert.ok(
          (second.get(series) ?? -1) >= value,
          `${series} went from ${value} to ${second.get(series)}`,
        );
      }
      assert.equal(
        second.get('vtp_segments_served_total{}'),
        first.get('vtp_segments_served_total{}'),
      );
      for (const profile of PROFILES)
        assert.ok(
          !second.has(`vtp_segments_published_total{"stream":"brief","profile":"${profile}"}`),
          'a removed stream leaves no series behind',
        );
    } finally {
      await server.close();
    }
  });

  it('passes promtool check metrics when promtool is installed', async (t) => {
    const promtool = await promisify(execFile)('promtool', ['--version']).catch(() => undefined);
    if (!promtool) return t.skip('promtool is not installed');
    const dir = await mkdtemp(path.join(tmpdir(), 'vtp-metrics-'));
    try {
      const file = path.join(dir, 'metrics.txt');
      await writeFile(file, (await scrape(server)).text);
      const { stdout, stderr } = await promisify(execFile)('sh', [
        '-c',
        `promtool check metrics < ${file}`,
      ]);
      assert.equal(`${stdout}${stderr}`.trim(), '');
    } catch (error) {
      assert.fail(
        `promtool check metrics failed: ${(error as { stdout?: string }).stdout ?? error}`,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
