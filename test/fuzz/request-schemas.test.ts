import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { createRuntime, type Runtime } from '../../src/server.js';
import { checkProperty, describeRun, errorEnvelopeProblem, preview } from '../helpers/fuzz.js';
import { ALL_PROFILES, segmentInput } from '../helpers/segments.js';

// The control API's request schemas, driven through the real app in-process (app.inject).
// Validity is judged by this file's own reading of the documented constraints (README, and the
// security rules in docs/architecture.md), not by the schemas under test.

const LIVE = 'fuzz-live';
const VIEWER = 'fuzz-viewer';
const SEGMENT_IDS = Array.from({ length: 8 }, (_, i) => `seg-${i}`);
const PROFILES = ['VeryLow', 'Low', 'Medium', 'High'];

// --- What the documentation allows ------------------------------------------------------

const ID_SHAPE = /^[A-Za-z0-9._-]{1,128}$/;
function isValidId(value: unknown): value is string {
  return typeof value === 'string' && ID_SHAPE.test(value) && !/^\.+$/.test(value);
}
/** JSON Schema counts string length in code points. */
function codePoints(value: string): number {
  return [...value].length;
}
function isIntegerIn(value: unknown, min: number, max: number): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}
function isNumberIn(value: unknown, min: number, max: number): boolean {
  return typeof value === 'number' && Number.isFinite(value) && value >= min && value <= max;
}
function isStringOf(value: unknown, min: number, max: number): boolean {
  return typeof value === 'string' && codePoints(value) >= min && codePoints(value) <= max;
}
function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
/** Whether `value` holds no key but `allowed` ones (request bodies take no unknown field). */
function onlyKeys(value: Record<string, unknown>, allowed: readonly string[]): boolean {
  return Object.keys(value).every((key) => allowed.includes(key));
}
function isSource(value: unknown): boolean {
  if (!isPlainObject(value)) return false;
  if (value.type === 'test-pattern') return onlyKeys(value, ['type']);
  if (value.type === 'file')
    return (
      onlyKeys(value, ['type', 'path', 'loop']) &&
      isStringOf(value.path, 1, 512) &&
      (value.loop === undefined || typeof value.loop === 'boolean')
    );
  if (value.type === 'url')
    return onlyKeys(value, ['type', 'url']) && isStringOf(value.url, 1, 2048);
  return false;
}

interface FieldSpec {
  readonly name: string;
  readonly required: boolean;
  readonly valid: (value: unknown) => boolean;
  readonly good: fc.Arbitrary<unknown>;
  /** Whether an error's `field` names this field (nested fields name a path below it). */
  readonly names?: (field: string) => boolean;
}

interface BodyRoute {
  readonly label: string;
  readonly method: 'POST' | 'PUT';
  readonly url: string;
  readonly fields: readonly FieldSpec[];
  /** Statuses (and domain codes) a schema-valid body may get, given the server's state. */
  readonly expect: (body: Record<string, unknown>) => Expectation;
  /** Records what a body the server accepted changed. */
  readonly commit?: (body: Record<string, unknown>) => void;
  /** Undoes what a valid body changed, when it would disturb later runs. */
  readonly reset?: () => void;
}

interface Expectation {
  readonly status: readonly number[];
  readonly codes?: readonly string[];
}

// --- Generators --------------------------------------------------------------------------

const idChar = fc.constantFrom(
  ...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-'.split(''),
);
const validId = fc
  .oneof(
    { weight: 4, arbitrary: fc.string({ unit: idChar, minLength: 1, maxLength: 24 }) },
    { weight: 1, arbitrary: fc.string({ unit: idChar, minLength: 100, maxLength: 128 }) },
  )
  .filter((s) => !/^\.+$/.test(s));

const junkChar = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      '.',
      '/',
      '%',
      '%2F',
      '%2e',
      '%00',
      '%zz',
      '\\',
      '?',
      '#',
      ' ',
      '+',
      '&',
      '=',
      ';',
      '"',
      "'",
      '<',
      '\u0000',
      '\n',
      '\t',
      'é',
      '😀',
      '\u202e',
      '\ufeff',
      '\ud800',
    ),
  },
  { weight: 3, arbitrary: idChar },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
);
/** Any string a client might put where an id goes: valid ids, junk, unicode, long and empty. */
const anyId = fc.oneof(
  { weight: 3, arbitrary: validId },
  { weight: 4, arbitrary: fc.string({ unit: junkChar, maxLength: 40 }) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.string({ unit: junkChar, minLength: 1, maxLength: 10 }), fc.nat({ max: 60 }))
      .map(([s, n]) => s.repeat(n).slice(0, 300)),
  },
  { weight: 1, arbitrary: fc.string({ unit: idChar, minLength: 129, maxLength: 300 }) },
  { weight: 1, arbitrary: fc.constantFrom('', '.', '..', '...', 'start', 'a'.repeat(129)) },
);
const badId = fc.oneof(
  anyId.filter((s) => !isValidId(s)),
  fc.oneof(
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.array(validId, { maxLength: 2 }),
    fc.record({ id: validId }),
  ),
);

const nonNumber = fc.oneof(
  fc.string({ maxLength: 8 }),
  fc.integer().map(String),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.integer(), { maxLength: 2 }),
  fc.dictionary(fc.string({ maxLength: 3 }), fc.integer(), { maxKeys: 2 }),
);
const hugeNumbers = fc.constantFrom(1e308, -1e308, 2 ** 53, 2 ** 53 + 2, -(2 ** 31), 5e-324);
function badInteger(min: number, max: number): fc.Arbitrary<unknown> {
  return fc
    .oneof(
      nonNumber,
      hugeNumbers,
      fc.constantFrom(min - 1, max + 1, min + 0.5, max - 0.25),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
    )
    .filter((v) => !isIntegerIn(v, min, max));
}
function badNumber(min: number, max: number): fc.Arbitrary<unknown> {
  return fc
    .oneof(
      nonNumber,
      hugeNumbers,
      fc.constantFrom(min - 1e-9, max + 1e-9, -1, 101),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
    )
    .filter((v) => !isNumberIn(v, min, max));
}
function badEnum(allowed: readonly string[]): fc.Arbitrary<unknown> {
  return fc
    .oneof(
      fc.constantFrom(...allowed.map((a) => a.toLowerCase()), ...allowed.map((a) => ` ${a}`), ''),
      fc.string({ maxLength: 10 }),
      nonNumber,
      fc.integer({ min: 0, max: 3 }),
    )
    .filter((v) => typeof v !== 'string' || !allowed.includes(v));
}
const badBoolean = fc
  .oneof(nonNumber, fc.constantFrom('true', 'false', 0, 1, 'yes'))
  .filter((v) => typeof v !== 'boolean');

/** Strings that stress the parser and the error path: unicode, quotes, control characters. */
const nastyString = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 60 }),
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc.string({ unit: junkChar, maxLength: 60 }),
);

function field(
  name: string,
  required: boolean,
  valid: (value: unknown) => boolean,
  good: fc.Arbitrary<unknown>,
  names?: (field: string) => boolean,
): FieldSpec {
  return { name, required, valid, good, ...(names && { names }) };
}

// --- Server state the valid bodies meet ---------------------------------------------------

let runtime: Runtime;
const started = new Set<string>();
const joined = new Map<string, Set<string>>();

function hasViewer(recordingId: unknown, viewerId: unknown): boolean {
  return (
    typeof recordingId === 'string' &&
    typeof viewerId === 'string' &&
    (joined.get(recordingId)?.has(viewerId) ?? false)
  );
}

const knownOrRandomStream = fc.oneof(fc.constant(LIVE), validId);
const knownOrRandomViewer = fc.oneof(fc.constant(VIEWER), validId);
const knownOrRandomSegment = fc.oneof(fc.constantFrom(...SEGMENT_IDS), validId);

const BODY_ROUTES: readonly BodyRoute[] = [
  {
    label: 'POST /api/v1/streams/start',
    method: 'POST',
    url: '/api/v1/streams/start',
    fields: [
      field('recording_id', true, isValidId, validId),
      field(
        'max_viewers',
        false,
        (v) => isIntegerIn(v, 1, 1_000_000),
        fc.integer({ min: 1, max: 1_000_000 }),
      ),
      field(
        'publish_key',
        false,
        (v) => isStringOf(v, 8, 256),
        fc.string({ unit: 'grapheme', minLength: 8, maxLength: 40 }),
      ),
    ],
    expect: (body) => {
      const id = body.recording_id as string;
      if (id === 'start') return { status: [400], codes: ['INVALID_REQUEST'] };
      if (started.has(id)) return { status: [409], codes: ['STREAM_EXISTS'] };
      return { status: [201] };
    },
    commit: (body) => {
      started.add(body.recording_id as string);
      joined.set(body.recording_id as string, new Set());
    },
  },
  {
    label: 'POST /api/v1/streams/{id} (join)',
    method: 'POST',
    url: `/api/v1/streams/${LIVE}`,
    fields: [
      field('viewer_id', true, isValidId, knownOrRandomViewer),
      field(
        'initial_bitrate',
        false,
        (v) => PROFILES.includes(v as string),
        fc.constantFrom(...PROFILES),
      ),
    ],
    expect: (body) => {
      const viewer = body.viewer_id as string;
      if (hasViewer(LIVE, viewer)) return { status: [409], codes: ['VIEWER_EXISTS'] };
      return { status: [201] };
    },
    commit: (body) => joined.get(LIVE)?.add(body.viewer_id as string),
  },
  {
    label: 'POST /api/v1/segments/deliver',
    method: 'POST',
    url: '/api/v1/segments/deliver',
    fields: [
      field('recording_id', true, isValidId, knownOrRandomStream),
      field('viewer_id', true, isValidId, knownOrRandomViewer),
      field('segment_id', true, isValidId, knownOrRandomSegment),
      field('priority', false, (v) => isIntegerIn(v, 0, 10), fc.integer({ min: 0, max: 10 })),
    ],
    expect: (body) => {
      if (!started.has(body.recording_id as string))
        return { status: [404], codes: ['STREAM_NOT_FOUND'] };
      if (!hasViewer(body.recording_id, body.viewer_id))
        return { status: [404], codes: ['VIEWER_NOT_FOUND'] };
      if (body.recording_id !== LIVE || !SEGMENT_IDS.includes(body.segment_id as string))
        return { status: [404], codes: ['SEGMENT_NOT_FOUND'] };
      // A viewer's backlog and the queue have bounds of their own.
      return { status: [202, 409, 503], codes: ['VIEWER_BACKLOG_FULL', 'QUEUE_FULL'] };
    },
  },
  {
    label: 'POST /api/v1/viewers/adapt-quality',
    method: 'POST',
    url: '/api/v1/viewers/adapt-quality',
    fields: [
      field('recording_id', true, isValidId, knownOrRandomStream),
      field('viewer_id', true, isValidId, knownOrRandomViewer),
      field(
        'buffer_health',
        true,
        (v) => isNumberIn(v, 0, 100),
        fc.oneof(fc.double({ min: 0, max: 100, noNaN: true }), fc.integer({ min: 0, max: 100 })),
      ),
    ],
    expect: (body) => {
      if (!started.has(body.recording_id as string))
        return { status: [404], codes: ['STREAM_NOT_FOUND'] };
      if (!hasViewer(body.recording_id, body.viewer_id))
        return { status: [404], codes: ['VIEWER_NOT_FOUND'] };
      return { status: [200] };
    },
  },
  {
    label: 'PUT /api/v1/distribution/cdn',
    method: 'PUT',
    url: '/api/v1/distribution/cdn',
    fields: [
      field('enabled', true, (v) => typeof v === 'boolean', fc.boolean()),
      field(
        'base_url',
        false,
        (v) => typeof v === 'string' && /^https?:\/\//.test(v) && codePoints(v) <= 2048,
        fc.oneof(
          fc.constantFrom('http://127.0.0.1:9', 'https://127.0.0.1:9/cdn/', 'http://', 'https://['),
          fc.string({ unit: junkChar, maxLength: 40 }).map((p) => `http://127.0.0.1:9/${p}`),
        ),
      ),
    ],
    expect: (body) => {
      if (body.enabled !== true) return { status: [200] };
      if (body.base_url === undefined) return { status: [400], codes: ['INVALID_REQUEST'] };
      // A base URL that only looks like one (http://) is refused, naming base_url.
      return { status: [200, 400], codes: ['INVALID_REQUEST'] };
    },
    reset: () => runtime.service.disableCDN(),
  },
  {
    label: 'POST /api/v1/transcode/start',
    method: 'POST',
    url: '/api/v1/transcode/start',
    fields: [
      field('recording_id', true, isValidId, validId),
      field(
        'source',
        false,
        isSource,
        fc.oneof(
          fc.constant({ type: 'test-pattern' }),
          fc.record(
            {
              type: fc.constant('file'),
              path: fc.string({ minLength: 1, maxLength: 30 }),
              loop: fc.boolean(),
            },
            { requiredKeys: ['type', 'path'] },
          ),
          fc.record({ type: fc.constant('url'), url: fc.string({ minLength: 1, maxLength: 30 }) }),
        ),
        (f) => f === 'source' || f.startsWith('source.'),
      ),
      field(
        'preset',
        false,
        (v) => v === 'full' || v === 'light',
        fc.constantFrom('full', 'light'),
      ),
      field('fmp4', false, (v) => typeof v === 'boolean', fc.boolean()),
      field(
        'duration_seconds',
        false,
        (v) => isIntegerIn(v, 1, 86_400),
        fc.integer({ min: 1, max: 86_400 }),
      ),
    ],
    // In-process the server is not listening, so no encoder can start (and no ffmpeg runs).
    expect: () => ({ status: [503], codes: ['NOT_LISTENING'] }),
  },
];
/** Routes print as their label in counterexamples. */
const bodyRoute = fc.constantFrom(
  ...BODY_ROUTES.map((route) => Object.assign(route, { [fc.toStringMethod]: () => route.label })),
);

function badValueFor(spec: FieldSpec): fc.Arbitrary<unknown> {
  switch (spec.name) {
    case 'max_viewers':
      return badInteger(1, 1_000_000);
    case 'priority':
      return badInteger(0, 10);
    case 'duration_seconds':
      return badInteger(1, 86_400);
    case 'buffer_health':
      return badNumber(0, 100);
    case 'initial_bitrate':
      return badEnum(PROFILES);
    case 'preset':
      return badEnum(['full', 'light']);
    case 'enabled':
    case 'fmp4':
      return badBoolean;
    case 'publish_key':
      return fc
        .oneof(
          fc.string({ unit: 'grapheme', maxLength: 7 }),
          fc.string({ unit: idChar, minLength: 257, maxLength: 400 }),
          nonNumber,
        )
        .filter((v) => !spec.valid(v));
    case 'base_url':
      return fc
        .oneof(
          nastyString,
          fc.constantFrom('ftp://x', 'HTTP://x', ' http://x', 'javascript:alert(1)', ''),
          fc.constant(`http://${'a'.repeat(2050)}`),
          nonNumber,
        )
        .filter((v) => !spec.valid(v));
    case 'source':
      return fc
        .oneof(
          nonNumber,
          fc.record({ type: fc.oneof(fc.string({ maxLength: 12 }), fc.integer()) }),
          fc.record({ type: fc.constant('file'), path: fc.constantFrom('', 'x'.repeat(513)) }),
          fc.record({ type: fc.constant('file') }),
          fc.record({ type: fc.constant('file'), path: fc.constant('a'), loop: badBoolean }),
          fc.record({ type: fc.constant('url'), url: fc.constantFrom('', 7, null) }),
        )
        .filter((v) => !spec.valid(v));
    default:
      return badId.filter((v) => !spec.valid(v));
  }
}

/** A body valid for the route: required fields and any subset of the optional ones. */
function validBody(route: BodyRoute): fc.Arbitrary<Record<string, unknown>> {
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  for (const spec of route.fields) model[spec.name] = spec.good;
  return fc.record(model, {
    requiredKeys: route.fields.filter((f) => f.required).map((f) => f.name),
  }) as fc.Arbitrary<Record<string, unknown>>;
}

type Mutation =
  | { readonly kind: 'replace'; readonly field: string; readonly value: unknown }
  | { readonly kind: 'remove'; readonly field: string };

function mutation(route: BodyRoute): fc.Arbitrary<Mutation> {
  const replace = fc
    .constantFrom(...route.fields)
    .chain((spec) =>
      badValueFor(spec).map((value): Mutation => ({ kind: 'replace', field: spec.name, value })),
    );
  const required = route.fields.filter((f) => f.required);
  if (required.length === 0) return replace;
  const remove = fc
    .constantFrom(...required)
    .map((spec): Mutation => ({ kind: 'remove', field: spec.name }));
  return fc.oneof({ weight: 4, arbitrary: replace }, { weight: 1, arbitrary: remove });
}

const PROTO_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const extraFields = fc.dictionary(
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }).filter((k) => !PROTO_KEYS.has(k)),
  fc.jsonValue({ maxDepth: 3 }),
  { minKeys: 1, maxKeys: 4 },
);

/** Any JSON text: generated JSON, and anything JS can serialise. */
const arbitraryJsonText = fc.oneof(
  fc.json({ maxDepth: 4 }),
  fc.json({ maxDepth: 2, stringUnit: 'grapheme' }),
  fc.anything({ maxDepth: 3, withNullPrototype: true, withObjectString: true }).map((v) => {
    try {
      return JSON.stringify(v) ?? 'null';
    } catch {
      return 'null';
    }
  }),
  // Objects with the route's field names, holding anything.
  fc
    .dictionary(
      fc.constantFrom(
        'recording_id',
        'viewer_id',
        'segment_id',
        'buffer_health',
        'priority',
        'max_viewers',
        'enabled',
        'base_url',
        'source',
        'initial_bitrate',
      ),
      fc.oneof(fc.jsonValue({ maxDepth: 2 }), validId, nastyString),
    )
    .map((o) => JSON.stringify(o)),
);

// --- Sending and judging ------------------------------------------------------------------

interface Answer {
  readonly status: number;
  readonly contentType: string | string[] | undefined;
  readonly text: string;
  readonly body: any;
}

async function send(
  method: string,
  url: string,
  payload?: string | Buffer,
  contentType: string | undefined = payload === undefined ? undefined : 'application/json',
): Promise<Answer> {
  const res = await runtime.app.inject({
    method: method as 'GET',
    url,
    ...(payload !== undefined && { payload }),
    headers: contentType === undefined ? {} : { 'content-type': contentType },
  });
  let body: any;
  try {
    body = JSON.parse(res.body);
  } catch {
    body = undefined;
  }
  const type = res.headers['content-type'];
  return {
    status: res.statusCode,
    contentType: type === undefined ? undefined : String(type),
    text: res.body,
    body,
  };
}

/** Domain answers a correct request may get because of the server's state. */
const EXPLAINED_503 = new Set([
  'STREAM_FULL',
  'PROFILE_FULL',
  'QUEUE_FULL',
  'NOT_LISTENING',
  'TOO_MANY_STREAMS',
  'ANONYMOUS_BACKLOG_FULL',
]);

/** No 5xx but a 503 the state explains; every failure is the shared JSON error body. */
function assertWellFormedAnswer(answer: Answer, input: string): void {
  const where = `${input} -> ${answer.status} ${preview(answer.text)}`;
  if (answer.status >= 500) {
    assert.ok(
      answer.status === 503 && EXPLAINED_503.has(answer.body?.error?.code),
      `server fault: ${where}`,
    );
  }
  if (answer.status >= 300) {
    const problem = errorEnvelopeProblem(answer.contentType, answer.text);
    assert.equal(problem, undefined, `${problem}: ${where}`);
  }
  if (answer.status === 400 && answer.body?.error?.code === 'INVALID_REQUEST') {
    assert.ok(answer.body.error.field, `400 INVALID_REQUEST without a field: ${where}`);
  }
}

/** After any answer: a success changed the state, and a CDN switched on is switched off. */
function settle(route: BodyRoute, answer: Answer, body: unknown): void {
  if (answer.status < 300 && isPlainObject(body)) route.commit?.(body);
  route.reset?.();
}

function assertExpected(answer: Answer, expected: Expectation, input: string): void {
  const where = `${input} -> ${answer.status} ${preview(answer.text)}`;
  assert.ok(expected.status.includes(answer.status), `expected ${expected.status}: ${where}`);
  if (answer.status >= 300 && expected.codes) {
    assert.ok(
      expected.codes.includes(answer.body?.error?.code),
      `expected one of ${expected.codes}: ${where}`,
    );
  }
}

function isValidBody(route: BodyRoute, body: unknown): body is Record<string, unknown> {
  if (!isPlainObject(body)) return false;
  if (
    !onlyKeys(
      body,
      route.fields.map((spec) => spec.name),
    )
  )
    return false;
  return route.fields.every((spec) =>
    body[spec.name] === undefined ? !spec.required : spec.valid(body[spec.name]),
  );
}

function hasProtoKey(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(hasProtoKey);
  if (!isPlainObject(value)) return false;
  return Object.keys(value).some((k) => PROTO_KEYS.has(k) || hasProtoKey(value[k]));
}

/** Removes lone surrogates, which no URL can carry; what the server then sees is the result. */
function wellFormed(text: string): string {
  return text.replace(
    /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g,
    '\ufffd',
  );
}

before(async () => {
  runtime = createRuntime({
    logger: false,
    // Nothing leaves the process: no CDN uploads, no ffmpeg.
    service: {
      cdnUpload: async () => {},
      retentionMs: 10 * 60_000,
      idleTimeoutMs: 10 * 60_000,
      maxStreams: 100_000,
    },
    ingest: { encoderTimeoutMs: 10 * 60_000 },
    encoders: { ffmpeg: '/nonexistent/vtp-fuzz-ffmpeg' },
    // Rate limits are their own feature; here every request should meet the schemas.
    http: { apiRateLimit: 0, joinRateLimit: 0 },
    longPollMs: 0,
  });
  await runtime.app.ready();
  runtime.service.startLiveStream(LIVE, 1_000_000);
  started.add(LIVE);
  for (let i = 0; i < SEGMENT_IDS.length; i++) {
    for (const p of ALL_PROFILES) runtime.service.addSegmentToStream(LIVE, segmentInput(i, p));
    // Program date-times come from arrival times: segments a millisecond apart keep them distinct.
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  runtime.service.joinStream(LIVE, VIEWER);
  joined.set(LIVE, new Set([VIEWER]));
});
after(() => runtime.close(1000));

describe('control API request schemas (fuzz, in-process)', () => {
  it('answers arbitrary JSON bodies with a JSON 4xx naming a field, or a domain answer; never a 5xx', async (t) => {
    const run = await checkProperty(
      fc.asyncProperty(bodyRoute, arbitraryJsonText, async (route, text) => {
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined;
        }
        const expectation = isValidBody(route, parsed) ? route.expect(parsed) : undefined;
        const answer = await send(route.method, route.url, text);
        const input = `${route.label} ${preview(text)}`;
        assertWellFormedAnswer(answer, input);
        settle(route, answer, parsed);
        if (hasProtoKey(parsed)) {
          assert.equal(answer.status, 400, `prototype keys accepted: ${input}`);
        } else if (expectation) {
          assertExpected(answer, expectation, input);
        } else {
          assert.equal(answer.status, 400, `invalid body not refused: ${input} -> ${answer.text}`);
          assert.ok(answer.body?.error?.field, `400 without a field: ${input} -> ${answer.text}`);
        }
      }),
      1500,
      4000,
    );
    t.diagnostic(describeRun(run));
  });

  it('refuses a valid body with one bad or missing field with a 400 naming that field', async (t) => {
    const mutated = bodyRoute.chain((route) =>
      fc.tuple(fc.constant(route), validBody(route), mutation(route)),
    );
    const run = await checkProperty(
      fc.asyncProperty(mutated, async ([route, body, change]) => {
        const sent: Record<string, unknown> = { ...body };
        const spec = route.fields.find((f) => f.name === change.field) as FieldSpec;
        if (change.kind === 'remove') delete sent[change.field];
        else sent[change.field] = change.value;
        const text = JSON.stringify(sent);
        const answer = await send(route.method, route.url, text);
        settle(route, answer, sent);
        const input = `${route.label} ${change.kind} ${change.field}: ${preview(text)}`;
        assertWellFormedAnswer(answer, input);
        assert.equal(answer.status, 400, `not refused: ${input} -> ${answer.text}`);
        assert.equal(answer.body.error.code, 'INVALID_REQUEST', `${input} -> ${answer.text}`);
        const named = answer.body.error.field as string;
        const matches = spec.names ?? ((f: string) => f === change.field);
        assert.ok(matches(named), `names '${named}', not '${change.field}': ${input}`);
        assert.ok(answer.body.error.message.length > 0);
      }),
      1500,
      4000,
    );
    t.diagnostic(describeRun(run));
  });

  it('accepts every body the documented constraints allow', async (t) => {
    const valid = bodyRoute.chain((route) => fc.tuple(fc.constant(route), validBody(route)));
    const run = await checkProperty(
      fc.asyncProperty(valid, async ([route, body]) => {
        const text = JSON.stringify(body);
        const input = `${route.label} ${preview(text)}`;
        const expectation = route.expect(body);
        const answer = await send(route.method, route.url, text);
        settle(route, answer, body);
        assertWellFormedAnswer(answer, input);
        assertExpected(answer, expectation, input);
      }),
      1000,
      4000,
    );
    t.diagnostic(describeRun(run));
  });

  it('refuses a valid body with unknown fields with a 400 naming one of them', async (t) => {
    const withExtra = bodyRoute.chain((route) =>
      fc.tuple(
        fc.constant(route),
        validBody(route),
        extraFields.filter((extra) =>
          Object.keys(extra).every((key) => !route.fields.some((spec) => spec.name === key)),
        ),
      ),
    );
    const run = await checkProperty(
      fc.asyncProperty(withExtra, async ([route, body, extra]) => {
        const sent = { ...extra, ...body };
        const text = JSON.stringify(sent);
        const input = `${route.label} ${preview(text)}`;
        const answer = await send(route.method, route.url, text);
        settle(route, answer, sent);
        assertWellFormedAnswer(answer, input);
        assert.equal(answer.status, 400, `unknown field accepted: ${input} -> ${answer.text}`);
        assert.equal(answer.body.error.code, 'INVALID_REQUEST', `${input} -> ${answer.text}`);
        assert.ok(
          Object.keys(extra).includes(answer.body.error.field),
          `names '${answer.body.error.field}', not an unknown field: ${input}`,
        );
      }),
      1000,
      4000,
    );
    t.diagnostic(describeRun(run));
  });

  it('answers malformed payloads, odd content types and oversize bodies with a JSON 4xx', async (t) => {
    const validText = bodyRoute.chain((route) => validBody(route).map((b) => JSON.stringify(b)));
    const payload = fc.oneof(
      validText.chain((s) => fc.nat({ max: s.length }).map((n) => s.slice(0, n))),
      fc.nat({ max: 20_000 }).map((n) => `${'['.repeat(n)}${']'.repeat(n)}`),
      fc.nat({ max: 20_000 }).map((n) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`),
      fc.constantFrom(
        '{"recording_id":"a","recording_id":5}',
        '{"recording_id":"ok","max_viewers":1e400}',
        '{"recording_id":"ok","max_viewers":-0}',
        '{"recording_id":"x","viewer_id":"y","buffer_health":1e-400}',
        '{"__proto__":{"recording_id":"x"}}',
        '{"constructor":{"prototype":{"polluted":true}}}',
        '{"recording_id":"\\u0000"}',
        '{"recording_id":"\\ud800"}',
        '\ufeff{"recording_id":"bom"}',
        'null',
        'true',
        '"string"',
        '[]',
        '',
        ' ',
        '{',
        '{"a":NaN}',
        "{'a':1}",
      ),
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc.nat({ max: 40_000 }).map((n) => JSON.stringify({ recording_id: 'a'.repeat(n + 66_000) })),
    );
    const contentType = fc.oneof(
      { weight: 4, arbitrary: fc.constant('application/json') },
      {
        weight: 3,
        arbitrary: fc.constantFrom(
          'application/json; charset=utf-8',
          'APPLICATION/JSON',
          'application/json; charset=latin1',
          'application/json;;',
          'text/plain',
          'text/html',
          'application/x-www-form-urlencoded',
          'multipart/form-data; boundary=x',
          'application/vnd.api+json',
          '*/*',
          '',
          'application/octet-stream',
        ),
      },
      { weight: 1, arbitrary: fc.string({ unit: 'grapheme-ascii', maxLength: 30 }) },
    );
    const run = await checkProperty(
      fc.asyncProperty(bodyRoute, payload, contentType, async (route, text, type) => {
        const answer = await send(route.method, route.url, text, type);
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined;
        }
        settle(route, answer, parsed);
        assertWellFormedAnswer(answer, `${route.label} [${type}] ${preview(text)}`);
      }),
      400,
      3000,
    );
    t.diagnostic(describeRun(run));
  });

  interface PathRoute {
    readonly method: 'GET' | 'POST' | 'DELETE';
    readonly template: string;
    readonly param: string;
    readonly payload?: string;
  }
  const PATH_ROUTES: readonly PathRoute[] = [
    { method: 'GET', template: '/api/v1/streams/{}', param: 'recording_id' },
    {
      method: 'POST',
      template: '/api/v1/streams/{}',
      param: 'recording_id',
      payload: '{"viewer_id":"path-fuzz"}',
    },
    { method: 'DELETE', template: '/api/v1/streams/{}?viewer_id=nobody', param: 'recording_id' },
    { method: 'POST', template: '/api/v1/streams/{}/end', param: 'recording_id' },
    { method: 'GET', template: `/api/v1/streams/{}/viewers/${VIEWER}`, param: 'recording_id' },
    { method: 'GET', template: `/api/v1/streams/${LIVE}/viewers/{}`, param: 'viewer_id' },
    {
      method: 'GET',
      template: `/api/v1/streams/${LIVE}/viewers/{}/next?wait_ms=0`,
      param: 'viewer_id',
    },
    { method: 'GET', template: '/api/v1/segments/deliveries/{}', param: 'delivery_id' },
    { method: 'GET', template: '/api/v1/transcode/{}', param: 'job_id' },
    { method: 'POST', template: '/api/v1/transcode/{}/stop', param: 'job_id' },
    { method: 'GET', template: '/live/{}/master.m3u8', param: 'recording_id' },
    { method: 'GET', template: '/live/{}/Low/index.m3u8', param: 'recording_id' },
    { method: 'GET', template: `/live/${LIVE}/Low/{}`, param: 'file' },
  ];
  const pathRoute = fc.constantFrom(
    ...PATH_ROUTES.map((route) =>
      Object.assign(route, { [fc.toStringMethod]: () => `${route.method} ${route.template}` }),
    ),
  );
  /** Domain 404s (and the 409s of state) a well-formed id may meet; never ROUTE_NOT_FOUND. */
  const DOMAIN_CODES = new Set([
    'STREAM_NOT_FOUND',
    'VIEWER_NOT_FOUND',
    'SEGMENT_NOT_FOUND',
    'DELIVERY_NOT_FOUND',
    'ENCODER_NOT_FOUND',
    'NO_MEDIA_YET',
    'STREAM_ENDED',
    'VIEWER_EXISTS',
  ]);

  async function sendPath(route: PathRoute, segment: string): Promise<Answer> {
    const url = route.template.replace('{}', segment);
    return route.payload === undefined
      ? send(route.method, url)
      : send(route.method, url, route.payload);
  }

  it('judges percent-encoded ids in paths exactly: a 400 naming the parameter, or a domain answer', async (t) => {
    const run = await checkProperty(
      fc.asyncProperty(pathRoute, anyId, async (route, generated) => {
        const id = wellFormed(generated);
        // Ending the stream the other properties use would change their state under them.
        if (route.template.endsWith('/end') && started.has(id)) return;
        // POST /api/v1/streams/start is the start route, not a join of a stream named 'start'.
        if (route.method === 'POST' && route.template === '/api/v1/streams/{}' && id === 'start')
          return;
        const answer = await sendPath(route, encodeURIComponent(id));
        const input = `${route.method} ${route.template} with ${route.param}=${JSON.stringify(id)}`;
        assertWellFormedAnswer(answer, input);
        const where = `${input} -> ${answer.status} ${preview(answer.text)}`;
        if (id === '') return;
        // '.' and '..' are path segments that URL rules resolve away before a request is sent
        // (even as %2E): what is left is another route, judged only as well-formed.
        if (/^\.+$/.test(id)) return;
        if (isValidId(id)) {
          assert.ok(answer.status < 400 || DOMAIN_CODES.has(answer.body?.error?.code), where);
          return;
        }
        assert.equal(answer.status, 400, where);
        assert.equal(answer.body.error.field, route.param, where);
      }),
      1500,
      3000,
    );
    t.diagnostic(describeRun(run));
  });

  it('answers raw junk in path segments with a JSON error or a domain answer, never a 5xx', async (t) => {
    const raw = fc.oneof(
      anyId,
      fc.string({ unit: junkChar, maxLength: 300 }),
      fc.webSegment(),
      fc.constantFrom('%', '%%', '%c3%28', '%ed%a0%80', '%FF', '..%2F..%2F', '%2e%2e', '//', '\\'),
    );
    const run = await checkProperty(
      fc.asyncProperty(pathRoute, raw, async (route, segment) => {
        let answer: Answer;
        try {
          answer = await sendPath(route, segment);
        } catch (error) {
          // The client library refusing to send a URL is not the server's answer.
          if (error instanceof TypeError || (error as { code?: string }).code === 'ERR_INVALID_URL')
            return;
          throw error;
        }
        assertWellFormedAnswer(
          answer,
          `${route.method} ${route.template} raw ${JSON.stringify(segment)}`,
        );
      }),
      1000,
      3000,
    );
    t.diagnostic(describeRun(run));
  });

  it('judges query strings: repeated, missing, malformed or oversize values get a 400 naming the parameter', async (t) => {
    const value = fc.oneof(
      anyId,
      fc.nat({ max: 200_000 }).map(String),
      fc.string({ maxLength: 6 }),
    );
    const query = fc.oneof(
      // One parameter, percent-encoded: judged exactly.
      fc
        .tuple(
          fc.constantFrom(
            { route: `/api/v1/streams/${LIVE}`, method: 'DELETE', name: 'viewer_id' },
            {
              route: `/api/v1/streams/${LIVE}/viewers/nobody/next`,
              method: 'GET',
              name: 'wait_ms',
            },
            { route: `/live/${LIVE}/Low/index.m3u8`, method: 'GET', name: 'session' },
            { route: `/live/${LIVE}/Low/index.m3u8`, method: 'GET', name: 'CMCD' },
            { route: `/api/v1/streams/${LIVE}`, method: 'GET', name: 'limit' },
            { route: `/api/v1/streams/${LIVE}`, method: 'GET', name: 'cursor' },
          ),
          fc.oneof(value, fc.string({ unit: 'grapheme', minLength: 4000, maxLength: 4200 })),
          fc.nat({ max: 2 }),
        )
        .map(([target, v, copies]) => ({ ...target, value: wellFormed(v), copies: copies + 1 })),
    );
    const run = await checkProperty(
      fc.asyncProperty(query, async ({ route, method, name, value: v, copies }) => {
        const qs = Array.from({ length: copies }, () => `${name}=${encodeURIComponent(v)}`).join(
          '&',
        );
        const answer = await send(method, `${route}?${qs}`);
        const input = `${method} ${route}?${preview(qs, 200)}`;
        assertWellFormedAnswer(answer, input);
        const where = `${input} -> ${answer.status} ${preview(answer.text)}`;
        if (copies > 1) {
          assert.equal(answer.status, 400, where);
          assert.equal(answer.body.error.field, name, where);
          return;
        }
        const valid =
          name === 'viewer_id' || name === 'session'
            ? isValidId(v)
            : name === 'wait_ms'
              ? /^[0-9]{1,5}$/.test(v)
              : name === 'CMCD'
                ? codePoints(v) <= 4096
                : name === 'limit'
                  ? /^[0-9]{1,7}$/.test(v) && Number(v) >= 1 && Number(v) <= 1000
                  : /^[0-9]{1,15}$/.test(v);
        if (valid) {
          assert.ok(answer.status < 400 || DOMAIN_CODES.has(answer.body?.error?.code), where);
        } else {
          assert.equal(answer.status, 400, where);
          assert.equal(answer.body.error.field, name, where);
        }
      }),
      800,
      3000,
    );
    t.diagnostic(describeRun(run));
  });
});
