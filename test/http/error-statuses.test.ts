import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { STATUS_BY_CODE } from '../../src/http/error-mapping.js';
import { startTestServer, type TestServer } from '../helpers/http.js';
import { waitFor } from '../helpers/wait.js';

const ADMIN_TOKEN = 'statuses-admin-token-0123456789';

interface RawAnswer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/**
 * Writes `request` bytes as they are (no client library tidies them) and reads the first answer.
 * `halfClose` ends the sending side after the request, as a client that stops mid-body does.
 */
function raw(url: string, request: string, halfClose = false): Promise<RawAnswer> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let data = Buffer.alloc(0);
    const timer = setTimeout(() => socket.destroy(new Error('no answer in 10 s')), 10_000);
    const finish = () => {
      clearTimeout(timer);
      const text = data.toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      if (split === -1) return reject(new Error(`no complete answer: ${JSON.stringify(text)}`));
      const [statusLine, ...lines] = text.slice(0, split).split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const at = line.indexOf(':');
        headers[line.slice(0, at).toLowerCase()] = line.slice(at + 1).trim();
      }
      let body = text.slice(split + 4);
      if (headers['content-length'] !== undefined) {
        body = Buffer.from(body).subarray(0, Number(headers['content-length'])).toString();
      }
      resolve({ status: Number(statusLine?.split(' ')[1]), headers, body });
    };
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      // One answer is enough: stop once its declared body is in.
      const text = data.toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(text.slice(0, split))?.[1];
      if (split !== -1 && length !== undefined && data.length >= split + 4 + Number(length)) {
        socket.destroy();
      }
    });
    socket.on('close', finish);
    socket.on('error', () => {});
    socket.write(request);
    if (halfClose) socket.end();
  });
}

function get(path: string, headers = 'Host: vtp.test\r\n'): string {
  return `GET ${path} HTTP/1.1\r\n${headers}Connection: close\r\n\r\n`;
}

function post(path: string, body: string, extra = '', type = 'application/json'): string {
  return `POST ${path} HTTP/1.1\r\nHost: vtp.test\r\nContent-Type: ${type}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}Connection: close\r\n\r\n${body}`;
}

/** What a client must never read in an error: parser or framework internals, stack frames. */
const INTERNALS =
  /mapTo|Cannot (destructure|read)|TypeError|ReferenceError|FST_ERR|node_modules|\bat .+:\d+:\d+|\bundefined\b|\[object /;

/** The answer is the JSON error body with `code`, its status from the table, and nothing leaks. */
function assertJsonError(answer: RawAnswer, status: number, code: string, what: string): void {
  assert.equal(answer.status, status, `${what}: ${answer.status} ${answer.body}`);
  assert.match(answer.headers['content-type'] ?? '', /^application\/json/, what);
  const body = JSON.parse(answer.body);
  assert.equal(body.error.code, code, `${what}: ${answer.body}`);
  assert.equal(STATUS_BY_CODE[code], status, `${what}: the table gives ${code} this status`);
  assert.equal(typeof body.error.message, 'string');
  assert.equal(body.message, body.error.message);
  assert.match(body.timestamp, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
  assert.doesNotMatch(answer.body, INTERNALS, `${what} leaks internals: ${answer.body}`);
}

describe('every error status in the JSON error body, over raw sockets', () => {
  let server: TestServer;
  let url: string;
  before(async () => {
    server = await startTestServer({}, 200, {
      adminToken: ADMIN_TOKEN,
      ingest: { publishKey: 'statuses-publish-key-0123456789' },
      http: { requestTimeoutMs: 1000, headersTimeoutMs: 1000 },
    });
    url = server.url;
    server.service.startLiveStream('full', 1);
    server.service.joinStream('full', 'only');
  });
  after(() => server.close());

  const admin = `Authorization: Bearer ${ADMIN_TOKEN}\r\n`;

  const cases: [string, () => string, number, string, boolean?][] = [
    ['a URL that does not decode (/%)', () => get('/%'), 400, 'BAD_URL'],
    ['a URL of broken UTF-8', () => get('/live/%E0%A4%A/x'), 400, 'BAD_URL'],
    ['an HTTP/1.1 request without Host', () => get('/api/v1/streams', ''), 400, 'BAD_REQUEST'],
    ['bytes that are not HTTP', () => 'HELLO /\r\n\r\n', 400, 'BAD_REQUEST'],
    [
      'a Content-Length that is not a number',
      () => 'POST /api/v1/streams/start HTTP/1.1\r\nHost: vtp.test\r\nContent-Length: ten\r\n\r\n',
      400,
      'BAD_REQUEST',
    ],
    [
      'a body shorter than its Content-Length, then the end of the stream',
      () =>
        `POST /api/v1/streams/start HTTP/1.1\r\nHost: vtp.test\r\nContent-Type: application/json\r\n${admin}Content-Length: 100\r\n\r\n{"recording_id":"x"}`,
      400,
      'BAD_REQUEST',
      true,
    ],
    [
      'malformed JSON',
      () => post('/api/v1/streams/start', '{"recording_id":', admin),
      400,
      'INVALID_JSON',
    ],
    [
      'an unknown body field',
      () => post('/api/v1/streams/start', '{"recording_id":"a","maxViewers":5}', admin),
      400,
      'INVALID_REQUEST',
    ],
    [
      'a query parameter given twice',
      () => get('/api/v1/streams/full?limit=1&limit=2'),
      400,
      'INVALID_REQUEST',
    ],
    [
      'a pushed playlist with a URI before any tag (trips the playlist parser)',
      () =>
        `PUT /ingest/full/Low/index.m3u8 HTTP/1.1\r\nHost: vtp.test\r\nAuthorization: Bearer statuses-publish-key-0123456789\r\nContent-Length: 39\r\nConnection: close\r\n\r\n#EXTM3U\n#EXT-X-TARGETDURATION:2\nseg.ts\n`,
      400,
      'INVALID_INGEST',
    ],
    [
      'no admin token',
      () => post('/api/v1/streams/start', '{"recording_id":"a"}'),
      401,
      'ADMIN_TOKEN_REQUIRED',
    ],
    [
      'a wrong admin token',
      () => post('/api/v1/streams/start', '{"recording_id":"a"}', 'Authorization: Bearer nope\r\n'),
      403,
      'ADMIN_TOKEN_INVALID',
    ],
    ['a path no route serves', () => get('/nothing/here'), 404, 'ROUTE_NOT_FOUND'],
    ['an unknown stream', () => get('/api/v1/streams/nope'), 404, 'STREAM_NOT_FOUND'],
    [
      'a wrong method on a known path',
      () => `DELETE /api/v1/streams HTTP/1.1\r\nHost: vtp.test\r\nConnection: close\r\n\r\n`,
      405,
      'METHOD_NOT_ALLOWED',
    ],
    [
      'a request whose body never comes',
      () =>
        `POST /api/v1/streams/start HTTP/1.1\r\nHost: vtp.test\r\nContent-Type: application/json\r\n${admin}Content-Length: 100\r\n\r\n{"recording_id"`,
      408,
      'REQUEST_TIMEOUT',
    ],
    [
      'a stream that is already live',
      () => post('/api/v1/streams/start', '{"recording_id":"full"}', admin),
      409,
      'STREAM_EXISTS',
    ],
    [
      'a body over the limit',
      () =>
        post('/api/v1/streams/start', JSON.stringify({ recording_id: 'x'.repeat(70_000) }), admin),
      413,
      'BODY_TOO_LARGE',
    ],
    [
      'a path segment longer than any id',
      () => get(`/api/v1/streams/${'a'.repeat(600)}`),
      414,
      'URI_TOO_LONG',
    ],
    [
      'a URL longer than the header limit',
      () => get(`/api/v1/streams?x=${'a'.repeat(20_000)}`),
      414,
      'URI_TOO_LONG',
    ],
    [
      'a body that is not JSON',
      () => post('/api/v1/streams/start', 'recording_id=x', admin, 'text/plain'),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    ],
    [
      'headers over the limit',
      () => get('/api/v1/streams', `Host: vtp.test\r\nX-Filler: ${'a'.repeat(20_000)}\r\n`),
      431,
      'HEADERS_TOO_LARGE',
    ],
    [
      'a join beyond max_viewers',
      () => post('/api/v1/streams/full', '{"viewer_id":"second"}'),
      503,
      'STREAM_FULL',
    ],
  ];

  for (const [what, request, status, code, halfClose] of cases) {
    it(`answers ${what} with ${status} ${code}`, async () => {
      assertJsonError(await raw(url, request(), halfClose), status, code, what);
    });
  }

  it('covers every status the issue names', () => {
    const covered = new Set(cases.map(([, , status]) => status));
    for (const status of [400, 401, 403, 404, 405, 408, 409, 413, 414, 415, 431, 503]) {
      assert.ok(covered.has(status), `no case draws ${status}`);
    }
  });

  it('says when to come back on a 503', async () => {
    const answer = await raw(url, post('/api/v1/streams/full', '{"viewer_id":"third"}'));
    assert.equal(answer.status, 503);
    assert.equal(answer.headers['retry-after'], '1');
  });
});

describe('a URL that does not decode', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  it('is answered naming its path only, never the token, session or key of its query', async () => {
    const secrets = ['tok-SECRET-0123456789', 'sess-SECRET-0123456789', 'key-SECRET-0123456789'];
    const query = `?token=${secrets[0]}&session=${secrets[1]}&key=${secrets[2]}`;
    for (const [method, path] of [
      ['GET', '/live/%E0%A4%A/master.m3u8'],
      ['GET', '/live/rec/Low/%'],
      ['PUT', '/ingest/%ZZ/Low/seg_0.ts'],
    ] as const) {
      // The query undecodable too: nothing of it may come back, mangled or not.
      for (const tail of [query, `${query}%`]) {
        const answer = await raw(
          server.url,
          `${method} ${path}${tail} HTTP/1.1\r\nHost: vtp.test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
        );
        assertJsonError(answer, 400, 'BAD_URL', `${method} ${path}`);
        const body = JSON.parse(answer.body);
        assert.equal(body.error.message, `the URL does not decode: ${path}`);
        const everything = JSON.stringify(answer);
        for (const secret of secrets) {
          assert.ok(!everything.includes(secret), `${method} ${path}${tail} returned ${secret}`);
        }
        assert.doesNotMatch(everything, /token=|session=|key=/);
      }
    }
  });
});

describe('a request arriving while the server closes', () => {
  it('gets 503 SHUTTING_DOWN in the JSON error body, not the framework own', async () => {
    const server = await startTestServer({}, 200);
    try {
      const { hostname, port } = new URL(server.url);
      const socket = connect(Number(port), hostname);
      let data = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => {
        data += chunk;
      });
      socket.on('error', () => {});
      const closedSocket = new Promise((resolve) => socket.on('close', resolve));
      // A request whose body is still on its way keeps the connection busy across the close;
      // the request sent behind it on the same connection is read once the close has begun.
      const body = '{"recording_id":"late"}';
      // Node emits 'request' once it has read the headers: the request is then under way.
      const underWay = once(server.app.server, 'request');
      socket.write(
        `POST /api/v1/streams/start HTTP/1.1\r\nHost: vtp.test\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 5)}`,
      );
      await underWay;
      const closed = server.close();
      // Fastify stops the listener after its preClose hooks, the guard's among them.
      await waitFor(
        async () => (server.app.server.listening ? undefined : true),
        5000,
        'the close to begin',
        5,
      );
      socket.write(`${body.slice(5)}${get('/api/v1/streams')}`);
      await closedSocket;
      await closed;
      const answers = splitAnswers(data);
      assert.equal(answers.length, 2, data);
      const second = answers[1] as RawAnswer;
      assertJsonError(second, 503, 'SHUTTING_DOWN', 'request during close');
      assert.equal(second.headers['retry-after'], '1');
    } finally {
      await server.close();
    }
  });
});

/** Splits answers sent back to back on one connection (each with a Content-Length). */
function splitAnswers(data: string): RawAnswer[] {
  const answers: RawAnswer[] = [];
  let rest = data;
  for (let split = rest.indexOf('\r\n\r\n'); split !== -1; split = rest.indexOf('\r\n\r\n')) {
    const [statusLine, ...lines] = rest.slice(0, split).split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const at = line.indexOf(':');
      headers[line.slice(0, at).toLowerCase()] = line.slice(at + 1).trim();
    }
    const length = Number(headers['content-length'] ?? 0);
    answers.push({
      status: Number(statusLine?.split(' ')[1]),
      headers,
      body: rest.slice(split + 4, split + 4 + length),
    });
    rest = rest.slice(split + 4 + length);
  }
  return answers;
}
