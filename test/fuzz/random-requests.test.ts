import assert from 'node:assert/strict';
import { Agent, request as httpRequest } from 'node:http';
import { after, before, describe, it, mock } from 'node:test';
import fc from 'fast-check';
import { checkProperty, describeRun, errorEnvelopeProblem, preview } from '../helpers/fuzz.js';
import { call, startTestServer, type TestServer } from '../helpers/http.js';
import { pushSegments } from '../helpers/push.js';
import { ALL_PROFILES } from '../helpers/segments.js';

// A bounded run of random requests against a live server over real HTTP on 127.0.0.1.

const REQUESTS = 2000;
const TIME_LIMIT_MS = 20_000;
/** Then bursts of concurrent requests, to shake out races between handlers. */
const BURST = 8;
const BURSTS = 150;
const BURST_TIME_LIMIT_MS = 12_000;
/** Encoder histories pushed through ingest, each checked against what players are served. */
const PUSH_RUNS = 80;
const PUSH_TIME_LIMIT_MS = 6000;
/** One request may take this long (long polls wait at most 2 s here) before it counts as a hang. */
const REQUEST_TIMEOUT_MS = 5000;
/** Growth of this process's resident memory the run may cause (server and client share it). */
const RSS_CEILING_BYTES = 150 * 1024 * 1024;

const ADMIN_TOKEN = 'fuzz-admin-token-4f1c2a9d8e7b6c5a';
const PUSHED = 'fuzz-pushed';
const STARTED = 'fuzz-started';
const VIEWER = 'fuzz-viewer';

let server: TestServer;
let host: string;
let port: number;
let sessionId = 'vs-none';
let pushRound = 0;
/** Paths the server really serves (variant playlists, segments), learnt after the pushes. */
const served: string[] = [];
/** A fresh connection per request: a reset then belongs to that request, not to a stale socket. */
const agent = new Agent({ keepAlive: false });

// --- Generators --------------------------------------------------------------------------

const idChar = fc.constantFrom(
  ...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-'.split(''),
);
const validId = fc.string({ unit: idChar, minLength: 1, maxLength: 20 });
/** Bytes a request line may carry as they are: printable ASCII and latin-1 (Node sends those raw). */
const rawPathChar = fc.oneof(
  { weight: 30, arbitrary: idChar },
  {
    weight: 20,
    arbitrary: fc.constantFrom(
      '.',
      '..',
      '/',
      '//',
      '%',
      '%2F',
      '%2e%2e',
      '%00',
      '%zz',
      '%c3%28',
      '%ed%a0%80',
      '%F0%9F%98%80',
      '\\',
      '"',
      "'",
      '<',
      '>',
      '{',
      '}',
      '|',
      '^',
      '`',
      '~',
      ';',
      ',',
      ':',
      '@',
      '!',
      '$',
      '(',
      '*',
      '+',
      '=',
      '&',
      '[',
      ']',
    ),
  },
  // Raw bytes above 0x7e: Node's parser refuses them before the app sees the request.
  { weight: 1, arbitrary: fc.integer({ min: 0x80, max: 0xff }).map((c) => String.fromCharCode(c)) },
);
const junkSegment = fc.oneof(
  fc.string({ unit: rawPathChar, maxLength: 24 }),
  fc.string({ unit: idChar, minLength: 100, maxLength: 700 }),
  fc.constantFrom('', '.', '..', '...', 'start', 'index.m3u8', 'master.m3u8', 'init.mp4'),
);
/** Mostly the real names, so requests get past routing and validation to the code behind. */
const streamId = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(PUSHED, STARTED) },
  { weight: 2, arbitrary: validId },
  { weight: 2, arbitrary: junkSegment },
);
const viewerId = fc.oneof(
  { weight: 4, arbitrary: fc.constant(VIEWER) },
  { weight: 2, arbitrary: validId },
  { weight: 2, arbitrary: junkSegment },
);
const profile = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...ALL_PROFILES) },
  { weight: 1, arbitrary: fc.constantFrom('low', 'HIGH', 'Ultra', '') },
  { weight: 1, arbitrary: junkSegment },
);
const file = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.constantFrom(
      'seg_0.ts',
      'seg_1.ts',
      'seg_3.ts',
      'seg_99.ts',
      'index.m3u8',
      'init.mp4',
    ),
  },
  { weight: 2, arbitrary: validId },
  { weight: 1, arbitrary: junkSegment },
);

const routeShapedPath = fc.oneof(
  fc.constantFrom(
    '/api/v1/streams',
    '/api/v1/streams/start',
    '/api/v1/segments/deliver',
    '/api/v1/viewers/adapt-quality',
    '/api/v1/distribution/metrics',
    '/api/v1/distribution/health',
    '/api/v1/distribution/cdn',
    '/api/v1/transcode',
    '/api/v1/transcode/start',
    '/api/v1/openapi.json',
    '/api/docs',
    '/metrics',
    '/livez',
    '/readyz',
    '/dashboard',
    '/',
    '/assets/style.css',
    '/assets/hls.min.js',
    '/assets/..%2F..%2Fpackage.json',
  ),
  streamId.map((r) => `/api/v1/streams/${r}`),
  streamId.map((r) => `/api/v1/streams/${r}/end`),
  streamId.map((r) => `/api/v1/streams/${r}/report`),
  streamId.map((r) => `/api/v1/streams/${r}/ingest`),
  fc.tuple(streamId, viewerId).map(([r, v]) => `/api/v1/streams/${r}/viewers/${v}`),
  fc.tuple(streamId, viewerId).map(([r, v]) => `/api/v1/streams/${r}/viewers/${v}/next`),
  validId.map((d) => `/api/v1/segments/deliveries/${d}`),
  fc.oneof(validId, junkSegment).map((j) => `/api/v1/transcode/${j}`),
  fc.oneof(validId, junkSegment).map((j) => `/api/v1/transcode/${j}/stop`),
  streamId.map((r) => `/live/${r}/master.m3u8`),
  fc.tuple(streamId, profile).map(([r, p]) => `/live/${r}/${p}/index.m3u8`),
  fc.tuple(streamId, profile, file).map(([r, p, f]) => `/live/${r}/${p}/${f}`),
  fc.tuple(streamId, profile, file).map(([r, p, f]) => `/ingest/${r}/${p}/${f}`),
  fc.tuple(streamId, file).map(([r, f]) => `/ingest/${r}/${f}`),
  streamId.map((r) => `/watch/${r}`),
  streamId.map((r) => `/vod/${r}/master.m3u8`),
  junkSegment.map((a) => `/assets/${a}`),
  fc.array(junkSegment, { minLength: 1, maxLength: 6 }).map((parts) => `/${parts.join('/')}`),
);

const shapedPath = fc.oneof(
  { weight: 4, arbitrary: routeShapedPath },
  // Paths the server really serves (variant playlists, segments), learnt once the media is in.
  { weight: 1, arbitrary: fc.nat().map((n) => served[n % Math.max(1, served.length)] ?? '/') },
);

const queryValue = fc.oneof(
  validId,
  fc.string({ unit: rawPathChar, maxLength: 30 }),
  fc.nat({ max: 2000 }).map(String),
  fc.constantFrom('', '-1', '1e9', '99999', 'bl=500,mtp=2000,sid="s"', 'bl=-1,"', 'true'),
  // The joined viewer's session, known once the setup ran.
  fc.constant(null).map(() => sessionId),
);
const queryKey = fc.oneof(
  fc.constantFrom(
    'session',
    'CMCD',
    'token',
    'key',
    'viewer_id',
    'wait_ms',
    'limit',
    'cursor',
    '__proto__',
  ),
  fc.string({ unit: idChar, maxLength: 8 }),
);
const query = fc.oneof(
  { weight: 2, arbitrary: fc.constant('') },
  {
    weight: 3,
    arbitrary: fc
      .array(fc.tuple(queryKey, queryValue), { minLength: 1, maxLength: 5 })
      .map((pairs) => `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`),
  },
  { weight: 1, arbitrary: fc.string({ unit: rawPathChar, maxLength: 40 }).map((q) => `?${q}`) },
);

const method = fc.oneof(
  { weight: 8, arbitrary: fc.constant('GET') },
  { weight: 2, arbitrary: fc.constantFrom('HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS') },
  // Tokens Node's parser refuses, and ones Fastify has no route for.
  { weight: 1, arbitrary: fc.constantFrom('FOO', 'BREW', 'PROPFIND', 'PURGE', 'SEARCH', 'X-JUNK') },
);

/** Header values Node will send: printable ASCII and latin-1, no line breaks. */
const headerChar = fc
  .oneof(
    { weight: 9, arbitrary: fc.integer({ min: 0x20, max: 0x7e }) },
    { weight: 1, arbitrary: fc.integer({ min: 0xa0, max: 0xff }) },
  )
  .map((c) => String.fromCharCode(c));
const headerText = (max: number) => fc.string({ unit: headerChar, maxLength: max });
const authorization = fc.oneof(
  fc.constant(`Bearer ${ADMIN_TOKEN}`),
  fc.constant(null).map(() => `Bearer ${sessionId}`),
  fc.constantFrom('Bearer', 'Bearer ', 'bearer x', 'Basic dXNlcjpwYXNz', 'Digest a=b', 'Token t'),
  fc
    .tuple(fc.constantFrom('Bearer', 'Basic', 'Negotiate', 'BEARER'), headerText(80))
    .map(([scheme, value]) => `${scheme} ${value}`),
  headerText(200),
);
const contentType = fc.oneof(
  fc.constantFrom(
    'application/json',
    'application/json; charset=utf-8',
    'text/plain',
    'application/octet-stream',
    'application/vnd.apple.mpegurl',
    'video/mp2t',
    'multipart/form-data; boundary=x',
    'application/x-www-form-urlencoded',
    '',
  ),
  headerText(40),
);
const headers = fc.record(
  {
    authorization,
    'content-type': contentType,
    'cmcd-request': headerText(120),
    'cmcd-object': headerText(120),
    'cmcd-status': headerText(120),
    'cmcd-session': headerText(120),
    accept: fc.constantFrom('text/csv', 'application/json', '*/*', 'text/html', ''),
    'if-none-match': headerText(60),
    range: fc.constantFrom('bytes=0-10', 'bytes=-5', 'bytes=999999-', 'junk'),
    'x-forwarded-for': fc.constantFrom('10.0.0.1', '1.2.3.4, 5.6.7.8', 'junk', ''),
    origin: fc.constantFrom('https://example.org', 'null'),
    'access-control-request-method': fc.constantFrom('GET', 'PUT'),
    'access-control-request-headers': fc.constantFrom('cmcd-request, cmcd-session', 'x-junk'),
    // Large, but with the rest well under Node's 16 KiB header limit.
    'x-fuzz-padding': fc.nat({ max: 12_000 }).map((n) => 'p'.repeat(n)),
  },
  { requiredKeys: [] },
);

const jsonBody = fc.oneof(
  fc.record(
    {
      recording_id: streamId,
      viewer_id: viewerId,
      segment_id: fc.oneof(validId, fc.constant('seg-1')),
      buffer_health: fc.oneof(fc.double(), fc.integer({ min: -5, max: 105 })),
      max_viewers: fc.oneof(fc.integer(), fc.constant(1e308)),
      initial_bitrate: profile,
      priority: fc.integer({ min: -2, max: 12 }),
      enabled: fc.boolean(),
      base_url: fc.constantFrom('http://127.0.0.1:9', 'ftp://x', ''),
    },
    { requiredKeys: [] },
  ),
  fc.jsonValue({ maxDepth: 3 }),
);
const body = fc.oneof(
  { weight: 3, arbitrary: fc.constant(undefined) },
  { weight: 3, arbitrary: jsonBody.map((b) => Buffer.from(JSON.stringify(b) ?? 'null')) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 2000 }).map((b) => Buffer.from(b)) },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom(
        '#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nseg_0.ts\n',
        '#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:1e30\n#EXTINF:2,\n',
        '{',
        '',
      )
      .map((s) => Buffer.from(s)),
  },
  { weight: 1, arbitrary: fc.nat({ max: 80_000 }).map((n) => Buffer.alloc(n + 60_000, 0x61)) },
);

interface RandomRequest {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly headers: Partial<Record<string, string>>;
  readonly body: Buffer | undefined;
  /** Sent in two writes (chunked transfer encoding) rather than with a Content-Length. */
  readonly chunked: boolean;
}
const randomRequest: fc.Arbitrary<RandomRequest> = fc
  .record({ method, path: shapedPath, query, headers, body, chunked: fc.boolean() })
  // Counterexamples print as a request line, not as kilobytes of padding.
  .map((r) => Object.assign(r, { [fc.toStringMethod]: () => describeRequest(r) }));

// --- Sending ------------------------------------------------------------------------------

interface Reply {
  readonly status: number;
  readonly contentType: string | undefined;
  readonly text: string;
}

/** Makes any string a request target Node sends: bytes outside 0x21-0xff are percent-encoded. */
function requestTarget(path: string, q: string): string {
  const target = `${path}${q}`.replace(/[^\u0021-\u00ff]/gu, (c) =>
    encodeURIComponent(c.replace(/[\ud800-\udfff]/g, '\ufffd')),
  );
  return target.startsWith('/') ? target : `/${target}`;
}

/**
 * Sends one request. A server may answer before it has read a body it refuses and then drop
 * the connection: the answer counts, and a reset with no answer is `undefined`.
 */
function send(r: RandomRequest): Promise<Reply | undefined> {
  return new Promise((resolve, reject) => {
    const headerList: Record<string, string> = {};
    for (const [name, value] of Object.entries(r.headers)) {
      if (value !== undefined) headerList[name] = value;
    }
    // Node frames a GET, HEAD, DELETE or OPTIONS body only when told how: say it explicitly.
    if (r.body !== undefined) {
      if (r.chunked) headerList['transfer-encoding'] = 'chunked';
      else headerList['content-length'] = String(r.body.length);
    }
    let status: number | undefined;
    let contentType: string | undefined;
    const chunks: Buffer[] = [];
    let size = 0;
    const answer = (): Reply | undefined =>
      status === undefined
        ? undefined
        : { status, contentType, text: Buffer.concat(chunks).toString('utf8') };
    const req = httpRequest(
      {
        host,
        port,
        method: r.method,
        path: requestTarget(r.path, r.query),
        headers: headerList,
        agent,
        timeout: REQUEST_TIMEOUT_MS,
      },
      (res) => {
        status = res.statusCode ?? 0;
        contentType = res.headers['content-type'];
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          // Keep what a judgement needs; the rest is read and dropped.
          if (size <= 256 * 1024) chunks.push(chunk);
        });
        res.on('end', () => resolve(answer()));
        res.on('error', () => resolve(answer()));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (status !== undefined) resolve(answer());
      else if (error.code === 'ECONNRESET' || error.code === 'EPIPE') resolve(undefined);
      else reject(error);
    });
    if (r.body === undefined) {
      req.end();
    } else if (r.chunked) {
      req.write(r.body.subarray(0, r.body.length >> 1));
      req.end(r.body.subarray(r.body.length >> 1));
    } else {
      req.end(r.body);
    }
  });
}

/** 503s that name a bound the state reached, which a correct server may give. */
const EXPLAINED_503 = new Set([
  'STREAM_FULL',
  'PROFILE_FULL',
  'QUEUE_FULL',
  'TOO_MANY_STREAMS',
  'ANONYMOUS_BACKLOG_FULL',
]);
/** Methods Node's HTTP parser accepts and hands to the app. */
const PARSED_METHODS = new Set([
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'PATCH',
  'OPTIONS',
  'PROPFIND',
  'PURGE',
  'SEARCH',
]);

/**
 * Whether Node's HTTP parser refuses the request before the app sees it (an unknown method, or
 * raw bytes above 0x7e in the request target): it answers 400 itself and drops the connection.
 */
function parserRefuses(r: RandomRequest): boolean {
  return !PARSED_METHODS.has(r.method) || /[^\u0021-\u007e]/.test(requestTarget(r.path, r.query));
}

function describeRequest(r: RandomRequest): string {
  const headerNames = Object.keys(r.headers).join(',');
  return `${r.method} ${preview(requestTarget(r.path, r.query), 200)} [${headerNames}] body ${
    r.body === undefined
      ? 'none'
      : `${r.body.length} bytes ${preview(r.body.toString('latin1'), 60)}`
  }`;
}

before(async () => {
  // hls-parser, inside the server, prints every malformed playlist pushed to it (hundreds here).
  mock.method(console, 'error', () => {});
  server = await startTestServer(
    {
      cdnUpload: async () => {},
      retentionMs: 10 * 60_000,
      idleTimeoutMs: 10 * 60_000,
      // Every encoder history gets streams of its own.
      maxStreams: 100_000,
    },
    200,
    {
      adminToken: ADMIN_TOKEN,
      ingest: { encoderTimeoutMs: 10 * 60_000 },
      // A transcode a random request manages to start fails to spawn instead of running ffmpeg.
      encoders: { ffmpeg: '/nonexistent/vtp-fuzz-ffmpeg' },
    },
  );
  const url = new URL(server.url);
  host = url.hostname;
  port = Number(url.port);
  const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
  for (const p of ALL_PROFILES) await pushSegments(server.url, PUSHED, p, 0, 4);
  const start = await call(
    `${server.url}/api/v1/streams/start`,
    'POST',
    { recording_id: STARTED },
    admin,
  );
  assert.equal(start.status, 201, JSON.stringify(start.body));
  const join = await call(
    `${server.url}/api/v1/streams/${STARTED}`,
    'POST',
    { viewer_id: VIEWER },
    admin,
  );
  assert.equal(join.status, 201, JSON.stringify(join.body));
  sessionId = join.body.session_id;
  // Learn the URIs players would follow, so random requests also hit real media.
  const master = await fetch(`${server.url}/live/${PUSHED}/master.m3u8`);
  assert.equal(master.status, 200);
  for (const line of (await master.text()).split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const variant = new URL(line, `${server.url}/live/${PUSHED}/`);
    served.push(variant.pathname + variant.search);
    const media = await fetch(variant);
    for (const entry of (await media.text()).split('\n')) {
      if (!entry || entry.startsWith('#')) continue;
      const segment = new URL(entry, variant);
      served.push(segment.pathname + segment.search);
    }
  }
  assert.ok(served.length >= 8, `expected variants and segments, got ${served}`);
});
after(async () => {
  agent.destroy();
  await server.close();
  mock.restoreAll();
});

/** What a run saw, for the log; and the judgement of each answer. */
class Tally {
  readonly statuses = new Map<number, number>();
  readonly codes = new Map<string, number>();
  resets = 0;
  routerRefusals = 0;
  sent = 0;
  readonly rssBefore = process.memoryUsage().rss;
  peakRss = this.rssBefore;

  /** Sends one request and judges the answer; throws with the request on a failure. */
  async check(r: RandomRequest): Promise<void> {
    this.sent++;
    if (this.sent % 50 === 0) this.peakRss = Math.max(this.peakRss, process.memoryUsage().rss);
    let reply: Reply | undefined;
    try {
      reply = await send(r);
    } catch (error) {
      throw new Error(`${describeRequest(r)}: ${(error as Error).message}`, { cause: error });
    }
    if (reply === undefined) {
      // Dropping the connection without an answer is fair only for a body the server refuses
      // by its size, or for a request Node's parser refuses.
      const oversize = (r.body?.length ?? 0) > 64 * 1024;
      assert.ok(
        oversize || parserRefuses(r),
        `connection reset without an answer: ${describeRequest(r)}`,
      );
      this.resets++;
      return;
    }
    this.statuses.set(reply.status, (this.statuses.get(reply.status) ?? 0) + 1);
    const where = `${describeRequest(r)} -> ${reply.status} ${preview(reply.text)}`;
    let code: unknown;
    try {
      code = JSON.parse(reply.text)?.error?.code;
    } catch {
      code = undefined;
    }
    if (typeof code === 'string') this.codes.set(code, (this.codes.get(code) ?? 0) + 1);
    if (reply.status >= 500) {
      assert.ok(reply.status === 503 && EXPLAINED_503.has(code as string), `5xx: ${where}`);
    }
    // Fastify's router refuses malformed percent-encoding and overlong parameters with its
    // own body, not the shared one; request-schemas.test.ts holds that against it.
    if (code === undefined && /"code":"FST_ERR_(BAD_URL|MAX_PARAM_LENGTH)"/.test(reply.text)) {
      this.routerRefusals++;
      return;
    }
    // Judged when the app answered: Node's parser answers what it refuses on its own.
    if (reply.status >= 400 && !parserRefuses(r)) {
      const problem =
        r.method === 'HEAD'
          ? /^application\/json\b/.test(reply.contentType ?? '')
            ? undefined
            : `HEAD answer typed '${reply.contentType}'`
          : errorEnvelopeProblem(reply.contentType, reply.text);
      assert.equal(problem, undefined, `${problem}: ${where}`);
    }
  }

  report(t: { diagnostic(message: string): void }): void {
    this.peakRss = Math.max(this.peakRss, process.memoryUsage().rss);
    const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
    t.diagnostic(
      `requests sent: ${this.sent}; connections reset without an answer: ${this.resets}`,
    );
    t.diagnostic(
      `router refusals with Fastify's own body (FST_ERR_BAD_URL etc.): ${this.routerRefusals}`,
    );
    t.diagnostic(
      `statuses: ${[...this.statuses.entries()]
        .sort(([a], [b]) => a - b)
        .map(([status, n]) => `${status}x${n}`)
        .join(' ')}`,
    );
    t.diagnostic(
      `error codes: ${[...this.codes.entries()]
        .sort(([, a], [, b]) => b - a)
        .map(([c, n]) => `${c}x${n}`)
        .join(' ')}`,
    );
    t.diagnostic(`rss before ${mib(this.rssBefore)}, peak ${mib(this.peakRss)}`);
  }
}

/** Health answers 200, the stream list still renders, and memory stayed under the ceiling. */
async function assertStillHealthy(tally: Tally): Promise<void> {
  const health = await call(`${server.url}/api/v1/distribution/health`, 'GET');
  assert.equal(health.status, 200, JSON.stringify(health.body));
  const streams = await call(`${server.url}/api/v1/streams`, 'GET');
  assert.equal(streams.status, 200);
  const growth = tally.peakRss - tally.rssBefore;
  assert.ok(
    growth < RSS_CEILING_BYTES,
    `resident memory grew by ${(growth / 2 ** 20).toFixed(0)} MiB (ceiling ${RSS_CEILING_BYTES / 2 ** 20} MiB)`,
  );
}

// --- An encoder pushing through ingest ---------------------------------------------------

/**
 * One segment period of an encoder like ffmpeg's hls muxer (segment bytes, then the playlist
 * of the newest six), with the ways real encoders and networks go wrong: an upload lost, an
 * odd duration, a discontinuity, a restart from zero, an old segment deleted, a junk playlist.
 */
const DURATIONS = {
  steady: fc.constantFrom('2.000', '2', '1.960', '2.040'),
  // Keyframes that do not fall on the segment boundary make some segments longer.
  varying: fc.constantFrom('2.000', '2.000', '2.600', '3.400', '4.500'),
  odd: fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom('2.000', '2', '1.960') },
    { weight: 1, arbitrary: fc.constantFrom('4.5', '0.5', '60', '0.001', '1e-320', '0.0001') },
  ),
};

function encoderTicks(faults: {
  lostUploads: boolean;
  durations: keyof typeof DURATIONS;
  chaos: boolean;
}) {
  const sometimes = (oneIn: number) =>
    faults.chaos ? fc.nat({ max: oneIn - 1 }).map((n) => n === 0) : fc.constant(false);
  return fc.record({
    bytesLost: faults.lostUploads ? fc.nat({ max: 5 }).map((n) => n === 0) : fc.constant(false),
    duration: DURATIONS[faults.durations],
    discontinuity: sometimes(10),
    restart: sometimes(15),
    deleteOldest: sometimes(6),
    junkPlaylist: faults.chaos
      ? fc.option(
          fc.constantFrom(
            '#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:9007199254740991\n#EXTINF:2,\nseg_0.ts\n#EXTINF:2,\nseg_1.ts\n',
            '#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n',
            '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nx.m3u8\n',
            'not a playlist',
          ),
          { freq: 12, nil: undefined },
        )
      : fc.constant(undefined),
    read: fc.boolean(),
  });
}
type EncoderTick = ReturnType<typeof encoderTicks> extends fc.Arbitrary<infer T> ? T : never;

/** Which promises to players a check holds the server to. */
interface ServedChecks {
  readonly stableSequence: boolean;
  readonly stableTarget: boolean;
}

interface ListedSegment {
  readonly uri: string;
  /** Media sequence number, exact even beyond 2^53. */
  readonly msn: bigint;
  readonly duration: number;
  /** Listed with EXT-X-GAP: a number whose upload was lost, which players skip. */
  readonly gap: boolean;
}

/** Reads a media playlist's segments with their media sequence numbers (RFC 8216 6.3.2). */
function listedSegments(text: string): { segments: ListedSegment[]; target: number } {
  let msn = 0n;
  let target = Number.NaN;
  let duration = Number.NaN;
  let gap = false;
  const segments: ListedSegment[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line.startsWith('#EXT-X-MEDIA-SEQUENCE:')) msn = BigInt(line.slice(22).trim());
    else if (line.startsWith('#EXT-X-TARGETDURATION:')) target = Number(line.slice(22));
    else if (line.startsWith('#EXTINF:')) duration = Number.parseFloat(line.slice(8));
    else if (line === '#EXT-X-GAP') gap = true;
    else if (line !== '' && !line.startsWith('#')) {
      segments.push({ uri: line, msn, duration, gap });
      msn += 1n;
      gap = false;
    }
  }
  return { segments, target };
}

/** A simulated encoder on one rendition of one stream, and what its viewers were served. */
class SimulatedEncoder {
  private next = 0;
  private window: { n: number; duration: string; discontinuity: boolean }[] = [];
  /** Media sequence number each served segment URI had when first listed. */
  private readonly msnOf = new Map<string, bigint>();
  /** EXT-X-TARGETDURATION first served: fixed for the stream's life (docs/architecture.md, delivery rules). */
  private target: number | undefined;
  /** Whether any upload of this run was lost (or deleted, or listed by a junk playlist). */
  private lostAny = false;

  constructor(
    private readonly stream: string,
    private readonly checks: ServedChecks,
    private readonly profile = 'Low',
  ) {}

  private async put(
    file: string,
    body: string | Uint8Array<ArrayBuffer>,
    tick: EncoderTick,
  ): Promise<void> {
    const res = await fetch(`${server.url}/ingest/${this.stream}/${this.profile}/${file}`, {
      method: 'PUT',
      body,
    });
    const text = await res.text();
    assert.ok(res.status < 500, `PUT ${file} ${preview(tick)} -> ${res.status} ${preview(text)}`);
  }

  async tick(tick: EncoderTick): Promise<void> {
    // Deleting a file not yet published loses it as surely as a lost upload.
    this.lostAny ||= tick.bytesLost || tick.deleteOldest || tick.junkPlaylist !== undefined;
    if (tick.restart) {
      this.next = 0;
      this.window = [];
    }
    const n = this.next++;
    if (!tick.bytesLost) await this.put(`seg_${n}.ts`, new Uint8Array(500 + n).fill(n % 251), tick);
    this.window.push({ n, duration: tick.duration, discontinuity: tick.discontinuity });
    this.window = this.window.slice(-6);
    const first = this.window[0]?.n ?? 0;
    let text = `#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:60\n#EXT-X-MEDIA-SEQUENCE:${first}\n`;
    for (const entry of this.window) {
      if (entry.discontinuity) text += '#EXT-X-DISCONTINUITY\n';
      text += `#EXTINF:${entry.duration},\nseg_${entry.n}.ts\n`;
    }
    await this.put('index.m3u8', tick.junkPlaylist ?? text, tick);
    if (tick.deleteOldest && this.window.length === 6) {
      const res = await fetch(
        `${server.url}/ingest/${this.stream}/${this.profile}/seg_${first}.ts`,
        { method: 'DELETE' },
      );
      await res.arrayBuffer();
      assert.ok(res.status < 500, `DELETE seg_${first}.ts -> ${res.status}`);
    }
    if (tick.read) await this.checkServed();
  }

  /**
   * What players get: a target duration that never changes, EXTINF positive and within it,
   * every listed segment fetchable, and a segment's media sequence number the same on every
   * reload (RFC 8216 6.2.1, 6.2.2).
   */
  async checkServed(): Promise<void> {
    const base = `${server.url}/live/${this.stream}/${this.profile}/`;
    const res = await fetch(`${base}index.m3u8`);
    const text = await res.text();
    assert.ok(res.status < 500, `GET index.m3u8 -> ${res.status} ${preview(text)}`);
    if (res.status !== 200) return;
    const { segments, target } = listedSegments(text);
    this.target ??= target;
    if (this.checks.stableTarget) {
      assert.equal(
        target,
        this.target,
        `EXT-X-TARGETDURATION changed from ${this.target}:\n${text}`,
      );
    }
    for (const segment of segments) {
      const where = `${segment.uri} in\n${text}`;
      assert.ok(segment.duration > 0, `EXTINF ${segment.duration} is not positive: ${where}`);
      assert.ok(
        Math.round(segment.duration) <= target,
        `EXTINF ${segment.duration} exceeds EXT-X-TARGETDURATION ${target}: ${where}`,
      );
      const before = this.msnOf.get(segment.uri);
      assert.ok(
        !this.checks.stableSequence || before === undefined || before === segment.msn,
        `media sequence number of ${segment.uri} changed from ${before} to ${segment.msn}: ${where}`,
      );
      this.msnOf.set(segment.uri, segment.msn);
      const fetched = await fetch(new URL(segment.uri, base));
      await fetched.arrayBuffer();
      if (segment.gap) {
        // A gap stands for an upload that never arrived: only after a loss, and never with bytes.
        assert.ok(this.lostAny, `a gap listed though no upload was lost: ${where}`);
        assert.equal(fetched.status, 404, `a gap's URI answered ${fetched.status}: ${where}`);
        continue;
      }
      assert.equal(fetched.status, 200, `listed segment answered ${fetched.status}: ${where}`);
    }
  }
}

describe('random requests against a live server (fuzz, real HTTP on 127.0.0.1)', () => {
  it(`answers ${REQUESTS} random requests one at a time without a 5xx, with JSON errors, and stays healthy within ${RSS_CEILING_BYTES / 2 ** 20} MiB of memory growth`, async (t) => {
    const tally = new Tally();
    const run = await checkProperty(
      fc.asyncProperty(randomRequest, (r) => tally.check(r)),
      REQUESTS,
      TIME_LIMIT_MS,
    );
    t.diagnostic(describeRun(run));
    tally.report(t);
    assert.ok(run.runs >= REQUESTS / 3, `only ${run.runs} requests ran within the time limit`);
    await assertStillHealthy(tally);
  });

  it(`answers bursts of ${BURST} concurrent random requests without a 5xx and stays healthy`, async (t) => {
    const tally = new Tally();
    const run = await checkProperty(
      fc.asyncProperty(
        fc.array(randomRequest, { minLength: BURST, maxLength: BURST }),
        async (burst) => {
          const outcomes = await Promise.allSettled(burst.map((r) => tally.check(r)));
          const failed = outcomes.find((o) => o.status === 'rejected');
          if (failed) throw (failed as PromiseRejectedResult).reason;
        },
      ),
      BURSTS,
      BURST_TIME_LIMIT_MS,
    );
    t.diagnostic(describeRun(run));
    tally.report(t);
    await assertStillHealthy(tally);
  });
  // A `todo` property still runs and reports its counterexample, without failing the suite: it
  // describes playlist behaviour the HLS rules demand that the server does not have yet.
  const encoderProperties: ReadonlyArray<
    readonly [string, Parameters<typeof encoderTicks>[0], ServedChecks, string?]
  > = [
    [
      'keeps each segment at one media sequence number across reloads when segment uploads are lost',
      { lostUploads: true, durations: 'steady', chaos: false },
      { stableSequence: true, stableTarget: true },
    ],
    [
      'never serves an EXTINF of zero or beyond the target duration, whatever durations the encoder reports',
      { lostUploads: false, durations: 'odd', chaos: false },
      { stableSequence: true, stableTarget: false },
    ],
    [
      "keeps one target duration for the stream's life when segment durations vary",
      { lostUploads: false, durations: 'varying', chaos: false },
      { stableSequence: true, stableTarget: true },
    ],
    [
      'never answers an encoder or a player with a 5xx and serves every listed segment while pushes go wrong in every way',
      { lostUploads: true, durations: 'odd', chaos: true },
      { stableSequence: false, stableTarget: false },
    ],
  ];
  for (const [name, faults, checks, todo] of encoderProperties) {
    it(name, { todo }, async (t) => {
      const tally = new Tally();
      const run = await checkProperty(
        fc.asyncProperty(
          fc.array(encoderTicks(faults), { minLength: 1, maxLength: 30 }),
          async (ticks) => {
            // Each run is a fresh encoder history on a stream no other run uses.
            const encoder = new SimulatedEncoder(`fuzz-push-${++pushRound}`, checks);
            for (const tick of ticks) await encoder.tick(tick);
            await encoder.checkServed();
          },
        ),
        PUSH_RUNS,
        PUSH_TIME_LIMIT_MS,
      );
      t.diagnostic(describeRun(run));
      await assertStillHealthy(tally);
    });
  }
});
