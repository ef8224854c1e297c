import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { PlaylistParseError, parsePushedPlaylist } from '../../src/ingest/pushed-playlist.js';
import { checkProperty, describeRun, preview } from '../helpers/fuzz.js';

/**
 * The contract of parsePushedPlaylist for any text an encoder (or anyone who can PUT) sends:
 * entries with safe, non-negative, strictly increasing sequence numbers, finite durations in
 * (0, 60], a non-empty file name (and init-section name, when there is one), or a
 * PlaylistParseError; never another exception.
 */
function assertParsesSafelyOrRejects(text: string): void {
  let result: ReturnType<typeof parsePushedPlaylist>;
  try {
    result = parsePushedPlaylist(text);
  } catch (error) {
    if (error instanceof PlaylistParseError) return;
    throw new Error(
      `threw ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)} ` +
        `instead of PlaylistParseError for ${JSON.stringify(text.slice(0, 2000))}`,
      { cause: error },
    );
  }
  assert.equal(typeof result.ended, 'boolean');
  let previous = -1;
  for (const entry of result.entries) {
    const where = `entry ${preview(entry)} of ${JSON.stringify(text.slice(0, 2000))}`;
    assert.ok(
      Number.isSafeInteger(entry.encoderSequence) && entry.encoderSequence >= 0,
      `encoderSequence ${entry.encoderSequence} is not a safe non-negative integer: ${where}`,
    );
    assert.ok(
      entry.encoderSequence > previous,
      `encoderSequence ${entry.encoderSequence} does not follow ${previous}: ${where}`,
    );
    previous = entry.encoderSequence;
    assert.ok(
      Number.isFinite(entry.durationSec) && entry.durationSec > 0 && entry.durationSec <= 60,
      `durationSec ${entry.durationSec} is outside (0, 60]: ${where}`,
    );
    assert.ok(typeof entry.file === 'string' && entry.file.length > 0, `empty file: ${where}`);
    assert.ok(
      entry.mapFile === undefined || (typeof entry.mapFile === 'string' && entry.mapFile !== ''),
      `empty EXT-X-MAP file: ${where}`,
    );
  }
}

// --- Generators -------------------------------------------------------------------------

const extinfValue = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.double({ min: 0.001, max: 60, noNaN: true }).map((d) => d.toFixed(3)),
  },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      'NaN',
      '-1',
      '-0',
      '0',
      '1e308',
      '1e-320',
      '',
      'Infinity',
      '60.0001',
      '60',
      '0x10',
      ' 2',
      '2abc',
      '1,000',
      '2.000,title',
    ),
  },
  { weight: 1, arbitrary: fc.double().map(String) },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
);

const sequenceValue = fc.oneof(
  { weight: 4, arbitrary: fc.nat({ max: 100_000 }).map(String) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      '1e30',
      '-5',
      '-1',
      '9007199254740990',
      '9007199254740991',
      '9007199254740992',
      '18446744073709551615',
      '99999999999999999999999999',
      '1.5',
      'abc',
      '',
      '0x10',
      'NaN',
      'Infinity',
    ),
  },
  { weight: 1, arbitrary: fc.maxSafeInteger().map(String) },
);

const uri = fc.oneof(
  { weight: 5, arbitrary: fc.nat({ max: 1000 }).map((n) => `seg_${n}.ts`) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'http://h/x/seg.ts?key=k',
      'http://h/x/',
      'dir/',
      '/',
      '?only=query',
      '#frag',
      'seg.ts#x',
      '../../etc/passwd',
      'séance_é.ts',
      '%2e%2e',
    ),
  },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }) },
);

const attributeList = fc.oneof(
  fc.constantFrom(
    'URI="init.mp4"',
    'URI=""',
    'URI="x',
    'METHOD=NONE',
    'METHOD=AES-128,URI="k"',
    'BANDWIDTH=1',
    'TIME-OFFSET=1',
    'DURATION=1,URI="p.ts"',
    '',
  ),
  fc.string({ maxLength: 30 }),
);
const tagName = fc.oneof(
  fc.constantFrom(
    'EXTM3U',
    'EXT-X-VERSION',
    'EXT-X-TARGETDURATION',
    'EXT-X-MEDIA-SEQUENCE',
    'EXT-X-DISCONTINUITY-SEQUENCE',
    'EXT-X-DISCONTINUITY',
    'EXT-X-MAP',
    'EXT-X-KEY',
    'EXT-X-ENDLIST',
    'EXT-X-PROGRAM-DATE-TIME',
    'EXT-X-STREAM-INF',
    'EXT-X-MEDIA',
    'EXT-X-PART',
    'EXT-X-PRELOAD-HINT',
    'EXT-X-BYTERANGE',
    'EXT-X-GAP',
    'EXT-X-PLAYLIST-TYPE',
    'EXT-X-INDEPENDENT-SEGMENTS',
    'EXT-X-START',
    'EXTINF',
    'EXT-X-PART-INF',
    'EXT-X-SERVER-CONTROL',
  ),
  fc.string({ unit: 'grapheme-ascii', maxLength: 12 }),
);
const randomTag = fc.oneof(
  fc.tuple(tagName, attributeList).map(([name, attrs]) => `#${name}:${attrs}`),
  tagName.map((name) => `#${name}`),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
);

interface ModelParts {
  readonly sequence: fc.Arbitrary<string>;
  readonly extinf: fc.Arbitrary<string>;
  readonly uri: fc.Arbitrary<string>;
  /** Out of ten segments, how many have no URI line. */
  readonly missingUriInTen: number;
  /** Random tags, duplicates, deletions, odd line ends, BOM and trailing bytes. */
  readonly mangle: boolean;
}

const sound = fc.nat({ max: 1_000_000 }).map(String);
const soundExtinf = fc.integer({ min: 1, max: 6000 }).map((n) => (n / 100).toFixed(2));
const soundUri = fc.nat({ max: 1000 }).map((n) => `seg_${n}.ts`);

function playlistModel(parts: ModelParts) {
  const segment = fc.record({
    extinf: parts.extinf,
    title: fc.constantFrom('', 'title', 'a,b', 'ü'),
    uri: parts.uri,
    missingUri: fc.nat({ max: 9 }).map((n) => n < parts.missingUriInTen),
    discontinuity: fc.boolean(),
    extra: parts.mangle ? fc.array(randomTag, { maxLength: 2 }) : fc.constant([]),
  });
  const mangled = <T>(arbitrary: fc.Arbitrary<T>, plain: T) =>
    parts.mangle ? arbitrary : fc.constant(plain);
  return fc.record({
    bom: mangled(fc.boolean(), false),
    eol: mangled(fc.constantFrom('\n', '\r\n', '\r', '\n\n'), '\n'),
    header: mangled(fc.boolean(), true),
    version: mangled(fc.constantFrom('3', '6', '7', '', 'x'), '3'),
    targetDuration: mangled(
      fc.oneof(fc.constantFrom('2', '6', '60', '0', '-1', '1e308', ''), fc.nat().map(String)),
      '60',
    ),
    sequence: fc.option(parts.sequence, { nil: undefined }),
    map: mangled(
      fc.option(fc.constantFrom('init.mp4', 'http://h/init.mp4', '', 'dir/'), { nil: undefined }),
      undefined,
    ),
    segments: fc.array(segment, { maxLength: 12 }),
    ended: fc.boolean(),
    duplicates: mangled(
      fc.array(
        fc.constantFrom(
          'EXT-X-TARGETDURATION:2',
          'EXT-X-MEDIA-SEQUENCE:3',
          'EXTM3U',
          'EXT-X-VERSION:3',
          'EXT-X-ENDLIST',
        ),
        { maxLength: 2 },
      ),
      [],
    ),
    inserts: mangled(fc.array(fc.tuple(fc.nat(), randomTag), { maxLength: 4 }), []),
    deletions: mangled(fc.array(fc.nat(), { maxLength: 2 }), []),
    trailing: mangled(fc.constantFrom('', ' ', '\t', '\u0000'), ''),
  });
}

type PlaylistModel = ReturnType<typeof playlistModel> extends fc.Arbitrary<infer T> ? T : never;

function render(m: PlaylistModel): string {
  const lines: string[] = [];
  if (m.header) lines.push('#EXTM3U');
  lines.push(`#EXT-X-VERSION:${m.version}`, `#EXT-X-TARGETDURATION:${m.targetDuration}`);
  if (m.sequence !== undefined) lines.push(`#EXT-X-MEDIA-SEQUENCE:${m.sequence}`);
  if (m.map !== undefined) lines.push(`#EXT-X-MAP:URI="${m.map}"`);
  for (const s of m.segments) {
    if (s.discontinuity) lines.push('#EXT-X-DISCONTINUITY');
    lines.push(...s.extra, `#EXTINF:${s.extinf},${s.title}${m.trailing}`);
    if (!s.missingUri) lines.push(s.uri);
  }
  if (m.ended) lines.push('#EXT-X-ENDLIST');
  for (const d of m.duplicates) lines.splice(1, 0, `#${d}`);
  for (const [at, tag] of m.inserts) lines.splice(at % (lines.length + 1), 0, tag);
  for (const at of m.deletions) if (lines.length > 0) lines.splice(at % lines.length, 1);
  return (m.bom ? '\ufeff' : '') + lines.join(m.eol) + m.eol;
}

function playlists(parts: Partial<ModelParts>): fc.Arbitrary<string> {
  return playlistModel({
    sequence: sound,
    extinf: soundExtinf,
    uri: soundUri,
    missingUriInTen: 0,
    mangle: false,
    ...parts,
  }).map(render);
}

/** A media playlist as ffmpeg's hls muxer writes it, with only well-formed values. */
const wellFormed = fc
  .record({
    sequence: fc.nat({ max: 1_000_000 }),
    durations: fc.array(fc.integer({ min: 1, max: 6000 }), { minLength: 1, maxLength: 10 }),
    ended: fc.boolean(),
    crlf: fc.boolean(),
  })
  .map(({ sequence, durations, ended, crlf }) => {
    const lines = [
      '#EXTM3U',
      '#EXT-X-VERSION:3',
      '#EXT-X-TARGETDURATION:60',
      `#EXT-X-MEDIA-SEQUENCE:${sequence}`,
    ];
    for (const [i, d] of durations.entries()) {
      lines.push(`#EXTINF:${(d / 100).toFixed(2)},`, `seg_${sequence + i}.ts`);
    }
    if (ended) lines.push('#EXT-X-ENDLIST');
    return { text: lines.join(crlf ? '\r\n' : '\n'), sequence, durations, ended };
  });

describe('parsePushedPlaylist (fuzz)', () => {
  it('returns safe entries or throws PlaylistParseError for arbitrary text', async (t) => {
    t.mock.method(console, 'error', () => {});
    const text = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 400 }),
      fc.string({ unit: 'grapheme', maxLength: 400 }),
      fc.array(randomTag, { maxLength: 20 }).map((lines) => lines.join('\n')),
      fc.array(randomTag, { maxLength: 20 }).map((lines) => `#EXTM3U\n${lines.join('\n')}`),
    );
    const run = await checkProperty(fc.property(text, assertParsesSafelyOrRejects), 1500, 5000);
    t.diagnostic(describeRun(run));
  });

  const cases: ReadonlyArray<readonly [string, fc.Arbitrary<string>, number]> = [
    [
      'with huge, negative or malformed EXT-X-MEDIA-SEQUENCE values',
      playlists({ sequence: sequenceValue }),
      800,
    ],
    ['with odd EXTINF durations (NaN, -1, 1e308, empty)', playlists({ extinf: extinfValue }), 800],
    [
      'with missing URI lines or URIs without a file name',
      playlists({ uri, missingUriInTen: 2 }),
      800,
    ],
    [
      'mangled by random tags, duplicate tags, CRLF, BOM and deleted lines',
      playlists({
        sequence: sequenceValue,
        extinf: extinfValue,
        uri,
        missingUriInTen: 1,
        mangle: true,
      }),
      2000,
    ],
  ];
  for (const [what, arbitrary, runs] of cases) {
    it(`returns safe entries or throws PlaylistParseError for media playlists ${what}`, async (t) => {
      t.mock.method(console, 'error', () => {});
      const run = await checkProperty(
        fc.property(arbitrary, assertParsesSafelyOrRejects),
        runs,
        4000,
      );
      t.diagnostic(describeRun(run));
    });
  }

  it('reads every entry of a well-formed playlist, in order, with its duration', async (t) => {
    t.mock.method(console, 'error', () => {});
    const run = await checkProperty(
      fc.property(wellFormed, ({ text, sequence, durations, ended }) => {
        const parsed = parsePushedPlaylist(text);
        assert.equal(parsed.ended, ended);
        assert.deepEqual(
          parsed.entries.map((e) => [e.file, e.encoderSequence, e.durationSec]),
          durations.map((d, i) => [
            `seg_${sequence + i}.ts`,
            sequence + i,
            Number((d / 100).toFixed(2)),
          ]),
        );
      }),
      500,
      3000,
    );
    t.diagnostic(describeRun(run));
  });
});
