import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import {
  forwardingHeaders,
  guardForwarding,
  INTERNAL_HOST,
  newProxySecret,
  PROXY_SECRET_HEADER,
  primaryTrustProxy,
} from '../../src/cluster/forwarded-for.js';
import { hlsCors } from '../../src/cluster/hls-cors.js';
import { hlsEdge } from '../../src/cluster/hls-edge.js';
import { OriginProxy } from '../../src/cluster/origin-proxy.js';
import { ReplicaFeed } from '../../src/cluster/replica-feed.js';
import { renderOnce, StreamReplicas } from '../../src/cluster/stream-replicas.js';
import { applyUsage, UsageBatch } from '../../src/cluster/usage.js';
import { segmentFileName } from '../../src/core/segment.js';
import type { HlsOptions } from '../../src/service/hls-delivery.js';
import { PlaybackTokens } from '../../src/service/playback-tokens.js';
import { startTestServer, type TestServer } from '../helpers/http.js';

interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

function get(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, headers, method }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

/** Headers of one server's answer that another's must match (not the connection's or the date). */
function comparable(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const { date: _d, connection: _c, 'keep-alive': _k, 'x-served-by': _s, ...rest } = headers;
  return rest;
}

interface ClusterOptions {
  readonly corsOrigins?: string;
  readonly playbackSecret?: string;
  /** The operator's `--trust-proxy`. */
  readonly trustProxy?: string;
  /** HLS options of the primary and the replicas alike (as serve-cluster gives both). */
  readonly hls?: Partial<HlsOptions>;
}

/** A primary (the real app) and one worker's HTTP front in this process, fed by a real feed. */
async function cluster(options: ClusterOptions = {}) {
  const { corsOrigins = '*', playbackSecret, trustProxy } = options;
  const hls: HlsOptions = { playlistSegments: 6, ...options.hls };
  const primary = await startTestServer({}, 200, {
    http: { trustProxy: primaryTrustProxy(trustProxy), corsOrigins },
    hls,
    playbackSecret,
  });
  const proxySecret = newProxySecret();
  guardForwarding(primary.app.server, proxySecret);
  const replicas = new StreamReplicas(hls);
  const feed = new ReplicaFeed(
    primary.service,
    (message) => replicas.apply(message),
    (id, profile) => renderOnce(primary.hls, id, profile),
  );
  feed.start();
  for (const message of feed.snapshot()) replicas.apply(message);
  const usage = new UsageBatch();
  const proxy = new OriginProxy({
    origin: { host: INTERNAL_HOST, port: Number(new URL(primary.url).port) },
    forwarding: forwardingHeaders(trustProxy),
    proxySecret,
  });
  const edge = hlsEdge({
    replicas,
    usage,
    proxy: (req, res) => proxy.forward(req, res),
    playback: playbackSecret ? new PlaybackTokens(playbackSecret) : undefined,
    cors: await hlsCors(corsOrigins),
    servedBy: 'worker-1',
  });
  const server: Server = createServer(edge);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const worker = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    primary,
    feed,
    usage,
    worker,
    async close() {
      server.closeAllConnections();
      server.close();
      proxy.close();
      await primary.close();
    },
  };
}

function publish(primary: TestServer, n: number): string {
  const incarnation = primary.service.getDistributor('lecture').incarnation;
  const id = segmentFileName(incarnation, n, false);
  for (const profile of ['Low', 'Medium'] as const) {
    primary.service.addSegmentToStream('lecture', {
      id,
      sequence: n,
      profile,
      durationSec: 2,
      data: new Uint8Array(40_000 + n).fill(n),
    });
  }
  return id;
}

describe('a worker’s HLS front', () => {
  let c: Awaited<ReturnType<typeof cluster>>;
  let segment: string;

  before(async () => {
    c = await cluster();
    c.primary.service.startLiveStream('lecture', 5);
    for (let n = 0; n < 4; n++) segment = publish(c.primary, n);
    c.primary.service.getDistributor('lecture').setMediaInfo('Low', { codecs: 'avc1.42c015' });
    c.primary.service.getDistributor('lecture').setMediaInfo('Medium', { codecs: 'avc1.4d401e' });
    c.feed.sync();
  });

  after(async () => c?.close());

  it('answers segments, ranges and revalidations itself, with the primary’s bytes and headers', async () => {
    for (const headers of [
      {},
      { range: 'bytes=100-199' },
      { 'if-none-match': 'W/"nope", *' },
    ] as Record<string, string>[]) {
      const mine = await get(`${c.worker}/live/lecture/Low/${segment}`, headers);
      const theirs = await get(`${c.primary.url}/live/lecture/Low/${segment}`, headers);
      assert.equal(mine.headers['x-served-by'], 'worker-1', JSON.stringify(headers));
      assert.equal(mine.status, theirs.status);
      assert.deepEqual(comparable(mine.headers), comparable(theirs.headers));
      assert.ok(mine.body.equals(theirs.body));
    }
  });

  it('answers media playlists in every encoding as the primary does', async () => {
    for (const encoding of [undefined, 'gzip, deflate, br', 'br', '*', 'identity']) {
      const headers: Record<string, string> =
        encoding === undefined ? {} : { 'accept-encoding': encoding };
      const mine = await get(`${c.worker}/live/lecture/Low/index.m3u8`, headers);
      const theirs = await get(`${c.primary.url}/live/lecture/Low/index.m3u8`, headers);
      assert.equal(mine.headers['x-served-by'], 'worker-1');
      assert.deepEqual(comparable(mine.headers), comparable(theirs.headers), String(encoding));
      const decode = (a: Answer) =>
        a.headers['content-encoding'] === 'gzip'
          ? gunzipSync(a.body)
          : a.headers['content-encoding'] === 'br'
            ? brotliDecompressSync(a.body)
            : a.body;
      assert.equal(decode(mine).toString(), decode(theirs).toString());
    }
  });

  it('passes a new player to the primary, which seats it; then serves and counts it itself', async () => {
    const master = await get(`${c.worker}/live/lecture/master.m3u8`);
    assert.equal(master.status, 200);
    assert.equal(master.headers['x-served-by'], undefined, 'the primary hands out sessions');
    const session = String(master.headers['x-vtp-session']);
    const first = await get(`${c.worker}/live/lecture/Low/${segment}?session=${session}`);
    assert.equal(first.status, 200);
    assert.equal(first.headers['x-served-by'], undefined, 'the primary seats a waiting session');
    const seated = c.primary.service.findSession(session);
    assert.ok(seated, 'seated at its first segment');
    const again = await get(`${c.worker}/live/lecture/Low/${segment}?session=${session}`);
    assert.equal(again.headers['x-served-by'], 'worker-1');
    const masterAgain = await get(`${c.worker}/live/lecture/master.m3u8?session=${session}`);
    const primaryMaster = await get(`${c.primary.url}/live/lecture/master.m3u8?session=${session}`);
    assert.equal(masterAgain.headers['x-served-by'], 'worker-1');
    assert.deepEqual(comparable(masterAgain.headers), comparable(primaryMaster.headers));
    assert.equal(masterAgain.body.toString(), primaryMaster.body.toString());
    const before = seated.session.segmentsReceived;
    assert.ok(c.usage.size >= 2);
    applyUsage(c.primary.service, c.usage.take());
    assert.equal(seated.session.segmentsReceived, before + 1);
    assert.equal(seated.session.bytesReceived, 2 * 40_003);
  });

  it('leaves steered viewers to the primary, which holds their steering', async () => {
    const master = await get(`${c.worker}/live/lecture/master.m3u8?abr=server`);
    assert.equal(master.status, 200);
    assert.equal(master.headers['x-served-by'], undefined);
    const session = String(master.headers['x-vtp-session']);
    assert.match(master.body.toString(), /^auto\/index\.m3u8\?session=/m);
    // Seated by a segment, the session is one the worker serves itself, except when steered.
    await get(`${c.worker}/live/lecture/Low/${segment}?session=${session}`);
    const plain = await get(`${c.worker}/live/lecture/master.m3u8?session=${session}`);
    assert.equal(plain.headers['x-served-by'], 'worker-1');
    const again = await get(`${c.worker}/live/lecture/master.m3u8?session=${session}&abr=server`);
    assert.equal(again.headers['x-served-by'], undefined, 'a seated viewer too');
    assert.match(again.body.toString(), /^auto\/index\.m3u8\?session=/m);
    const media = await get(`${c.worker}/live/lecture/auto/index.m3u8?session=${session}`);
    assert.equal(media.status, 200);
    assert.equal(media.headers['x-served-by'], undefined);
    assert.match(media.body.toString(), /^\.\.\/(Low|Medium)\//m);
  });

  it('leaves every error to the primary, in its JSON body', async () => {
    for (const path of [
      '/live/lecture/Low/nope.ts',
      '/live/nostream/Low/index.m3u8',
      '/live/lecture/Nope/index.m3u8',
      `/live/lecture/Low/${segment}?session=bad!`,
    ]) {
      const mine = await get(`${c.worker}${path}`);
      const theirs = await get(`${c.primary.url}${path}`);
      assert.ok(mine.status >= 400, path);
      assert.equal(mine.headers['x-served-by'], undefined);
      assert.equal(mine.status, theirs.status, path);
      assert.equal(
        JSON.parse(mine.body.toString()).error.code,
        JSON.parse(theirs.body.toString()).error.code,
      );
      assert.equal(mine.headers['cache-control'], theirs.headers['cache-control']);
    }
    const range = await get(`${c.worker}/live/lecture/Low/${segment}`, { range: 'bytes=999999-' });
    assert.equal(range.status, 416);
    assert.equal(range.headers['content-range'], `bytes */40003`);
  });

  it('passes the control API, HEAD and request bodies to the primary', async () => {
    const joined = await new Promise<Answer>((resolve, reject) => {
      const req = request(
        `${c.worker}/api/v1/streams/lecture`,
        { method: 'POST', agent: false, headers: { 'content-type': 'application/json' } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks),
            }),
          );
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify({ viewer_id: 'ada' }));
    });
    assert.equal(joined.status, 201);
    assert.equal(joined.headers.location, '/api/v1/streams/lecture/viewers/ada');
    const head = await get(`${c.worker}/live/lecture/Low/${segment}`, {}, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.headers['x-served-by'], undefined);
    assert.equal(head.headers['content-length'], '40003');
  });
});

describe('a worker’s HLS front with an origin list', () => {
  it('answers requests without an Origin itself and leaves those with one to the primary', async () => {
    const c = await cluster({ corsOrigins: 'http://a.example' });
    try {
      c.primary.service.startLiveStream('lecture');
      const segment = publish(c.primary, 0);
      for (const headers of [
        {},
        { origin: 'http://a.example' },
        { origin: 'http://b.example' },
      ] as Record<string, string>[]) {
        for (const path of [`/live/lecture/Low/${segment}`, '/live/lecture/Low/index.m3u8']) {
          const mine = await get(`${c.worker}${path}`, headers);
          const theirs = await get(`${c.primary.url}${path}`, headers);
          assert.deepEqual(
            comparable(mine.headers),
            comparable(theirs.headers),
            `${path} ${JSON.stringify(headers)}`,
          );
          assert.equal(mine.headers['x-served-by'], 'origin' in headers ? undefined : 'worker-1');
        }
      }
    } finally {
      await c.close();
    }
  });
});

describe('a worker’s HLS front with playback tokens', () => {
  it('serves playlists only with a valid token for the stream and viewer', async () => {
    const secret = 'a-playback-secret-of-some-length';
    const c = await cluster({ playbackSecret: secret });
    try {
      c.primary.service.startLiveStream('lecture');
      publish(c.primary, 0);
      const tokens = new PlaybackTokens(secret);
      const ada = c.primary.service.joinStream('lecture', 'ada');
      c.primary.service.joinStream('lecture', 'bob');
      const bob = c.primary.service.findSession(
        c.primary.service.getDistributor('lecture').session('bob').sessionId,
      );
      assert.ok(bob);
      const forAda = await tokens.issue('lecture', 'ada');
      const forOther = await tokens.issue('other');
      const cases: [string, number, string | undefined][] = [
        [`?session=${ada.sessionId}&token=${forAda}`, 200, 'worker-1'],
        [`?session=${ada.sessionId}`, 401, undefined],
        [`?session=${ada.sessionId}&token=${forOther}`, 403, undefined],
        [`?session=${ada.sessionId}&token=not.a.token`, 403, undefined],
        [`?session=${bob.session.sessionId}&token=${forAda}`, 403, undefined],
      ];
      for (const [query, status, servedBy] of cases) {
        const answer = await get(`${c.worker}/live/lecture/Low/index.m3u8${query}`);
        assert.equal(answer.status, status, query);
        assert.equal(answer.headers['x-served-by'], servedBy, query);
      }
    } finally {
      await c.close();
    }
  });
});

describe('forwarding headers', () => {
  it('carry only the peer from an untrusted client, and the chain from a trusted proxy', () => {
    const forged = { 'x-forwarded-for': '6.6.6.6', 'x-forwarded-host': 'evil.example' };
    assert.deepEqual(forwardingHeaders(undefined)(forged, '10.0.0.7'), {
      'x-forwarded-for': '10.0.0.7',
    });
    assert.deepEqual(forwardingHeaders('10.0.0.0/8')(forged, '192.0.2.1'), {
      'x-forwarded-for': '192.0.2.1',
    });
    assert.deepEqual(forwardingHeaders('10.0.0.0/8')(forged, '10.0.0.7'), {
      'x-forwarded-for': '6.6.6.6, 10.0.0.7',
      'x-forwarded-host': 'evil.example',
    });
    assert.equal(primaryTrustProxy(undefined), '127.0.0.1');
    assert.equal(primaryTrustProxy('true'), 'true');
    assert.equal(primaryTrustProxy('10.0.0.0/8'), '10.0.0.0/8,127.0.0.1');
  });
});

describe('a worker’s HLS front behind an edge tier (seats at the playlist)', () => {
  it('takes a media playlist for the rendition the viewer plays, as the primary does', async () => {
    const c = await cluster({ hls: { seatAtPlaylist: true } });
    try {
      c.primary.service.startLiveStream('lecture');
      publish(c.primary, 0);
      const ada = c.primary.service.joinStream('lecture', 'ada', 'Low');
      const answer = await get(
        `${c.worker}/live/lecture/Medium/index.m3u8?session=${ada.sessionId}`,
      );
      assert.equal(answer.status, 200);
      assert.equal(answer.headers['x-served-by'], 'worker-1');
      applyUsage(c.primary.service, c.usage.take());
      const distributor = c.primary.service.getDistributor('lecture');
      assert.equal(distributor.session('ada').currentBitrate, 'Medium');
      // The primary answering the same request itself moves the viewer alike.
      await get(`${c.primary.url}/live/lecture/Low/index.m3u8?session=${ada.sessionId}`);
      assert.equal(distributor.session('ada').currentBitrate, 'Low');
    } finally {
      await c.close();
    }
  });
});

describe('the primary’s loopback listener', () => {
  it('takes a client address from X-Forwarded-For only when a worker proves it sent it', async () => {
    const c = await cluster({ trustProxy: '127.0.0.1', hls: { anonymousPerClient: 1 } });
    try {
      c.primary.service.startLiveStream('lecture');
      publish(c.primary, 0);
      const master = (base: string, headers: Record<string, string>) =>
        get(`${base}/live/lecture/master.m3u8`, headers);
      // Through the worker (the operator trusts loopback proxies): one session per client each.
      for (const client of ['198.51.100.1', '198.51.100.2']) {
        const answer = await master(c.worker, { 'x-forwarded-for': client });
        assert.equal(answer.status, 200, `${client}: ${answer.body}`);
      }
      // Straight to the primary, as any local process can: the claims count for nothing.
      const first = await master(c.primary.url, { 'x-forwarded-for': '198.51.100.3' });
      assert.equal(first.status, 200, String(first.body));
      for (const headers of [
        { 'x-forwarded-for': '198.51.100.4' } as Record<string, string>,
        { 'x-forwarded-for': '198.51.100.5', [PROXY_SECRET_HEADER]: 'a-guessed-secret' },
      ]) {
        const refused = await master(c.primary.url, headers);
        assert.equal(refused.status, 429, JSON.stringify(headers));
        assert.equal(JSON.parse(refused.body.toString()).error.code, 'TOO_MANY_ANONYMOUS_SESSIONS');
      }
    } finally {
      await c.close();
    }
  });

  it('drops the proof from every request, and unproven forwarding headers, before anyone reads them', async () => {
    const server = createServer((req, res) => res.end(JSON.stringify(req.headers)));
    guardForwarding(server, 'the-proxy-secret-of-this-boot');
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      const seen = async (headers: Record<string, string>) => {
        const all = JSON.parse((await get(url, headers)).body.toString()) as Record<string, string>;
        return Object.keys(all).filter((name) => name.startsWith('x-'));
      };
      const claims = { 'x-forwarded-for': '198.51.100.1', 'x-forwarded-proto': 'https' };
      assert.deepEqual(await seen(claims), []);
      assert.deepEqual(await seen({ ...claims, [PROXY_SECRET_HEADER]: 'wrong' }), []);
      assert.deepEqual(
        await seen({ ...claims, [PROXY_SECRET_HEADER]: 'the-proxy-secret-of-this-boot' }),
        ['x-forwarded-for', 'x-forwarded-proto'],
      );
    } finally {
      server.close();
    }
  });
});
