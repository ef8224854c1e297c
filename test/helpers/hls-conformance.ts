import assert from 'node:assert/strict';

/**
 * A conformance checker for the playlists the server writes: the rules of RFC 8216 (and the
 * authoring rules players rely on) that apply to a live ladder. It reads the text line by line,
 * on its own, rather than through hls-parser, which writes the playlists: a checker sharing the
 * writer's parser would share its mistakes. Each function returns the problems it found, one
 * sentence each, empty when the playlist conforms.
 */

/** Tags that may appear once per playlist (RFC 8216 4.3.3, 4.3.5). */
const ONCE = [
  'EXT-X-VERSION',
  'EXT-X-TARGETDURATION',
  'EXT-X-MEDIA-SEQUENCE',
  'EXT-X-DISCONTINUITY-SEQUENCE',
  'EXT-X-ENDLIST',
  'EXT-X-PLAYLIST-TYPE',
  'EXT-X-I-FRAMES-ONLY',
  'EXT-X-INDEPENDENT-SEGMENTS',
  'EXT-X-START',
];
const MEDIA_ONLY = [
  'EXTINF',
  'EXT-X-TARGETDURATION',
  'EXT-X-MEDIA-SEQUENCE',
  'EXT-X-DISCONTINUITY-SEQUENCE',
  'EXT-X-DISCONTINUITY',
  'EXT-X-ENDLIST',
  'EXT-X-PROGRAM-DATE-TIME',
  'EXT-X-MAP',
  'EXT-X-GAP',
  'EXT-X-BYTERANGE',
  'EXT-X-KEY',
];
const MULTIVARIANT_ONLY = [
  'EXT-X-STREAM-INF',
  'EXT-X-MEDIA',
  'EXT-X-I-FRAME-STREAM-INF',
  'EXT-X-SESSION-DATA',
  'EXT-X-SESSION-KEY',
];
/** Tags that describe the next media segment and so must be followed by one. */
const SEGMENT_TAGS = [
  'EXTINF',
  'EXT-X-DISCONTINUITY',
  'EXT-X-PROGRAM-DATE-TIME',
  'EXT-X-GAP',
  'EXT-X-BYTERANGE',
];
/** RFC 3339 / ISO 8601 date-time with a time zone, as EXT-X-PROGRAM-DATE-TIME needs. */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$/;
const DECIMAL_INTEGER = /^(0|[1-9]\d{0,19})$/;
const DECIMAL_FLOAT = /^\d+(\.\d+)?$/;

interface Line {
  readonly n: number;
  readonly text: string;
  /** Tag name without '#', e.g. 'EXTINF'; undefined for URIs. */
  readonly tag: string | undefined;
  readonly value: string;
}

function lines(text: string): Line[] {
  return text.split('\n').flatMap((raw, i): Line[] => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') return [];
    if (!line.startsWith('#')) return [{ n: i + 1, text: line, tag: undefined, value: line }];
    if (!line.startsWith('#EXT')) return []; // a comment
    const colon = line.indexOf(':');
    return [
      {
        n: i + 1,
        text: line,
        tag: colon < 0 ? line.slice(1) : line.slice(1, colon),
        value: colon < 0 ? '' : line.slice(colon + 1),
      },
    ];
  });
}

/**
 * An attribute list (RFC 8216 4.2): NAME=value pairs, values quoted strings or bare tokens.
 * Returns undefined when it does not parse or repeats a name.
 */
export function attributeList(value: string): Map<string, string> | undefined {
  const attributes = new Map<string, string>();
  const pattern = /([A-Z0-9-]+)=("[^"\r\n]*"|[^",\s]+)(,|$)/y;
  let at = 0;
  while (at < value.length) {
    pattern.lastIndex = at;
    const match = pattern.exec(value);
    if (!match) return undefined;
    const [, name, raw] = match as unknown as [string, string, string];
    if (attributes.has(name)) return undefined;
    attributes.set(name, raw);
    at = pattern.lastIndex;
  }
  return attributes;
}

function unquote(raw: string | undefined): string | undefined {
  return raw?.startsWith('"') ? raw.slice(1, -1) : raw;
}

function commonProblems(all: Line[], text: string, problems: string[]): void {
  if (!text.startsWith('#EXTM3U\n') && text !== '#EXTM3U') {
    problems.push('the first line must be #EXTM3U');
  }
  if (text.charCodeAt(0) === 0xfeff) problems.push('a byte order mark before #EXTM3U');
  const seen = new Map<string, number>();
  for (const line of all) {
    if (line.tag === undefined || !ONCE.includes(line.tag)) continue;
    const first = seen.get(line.tag);
    if (first !== undefined) {
      problems.push(`line ${line.n}: ${line.tag} repeats (first on line ${first})`);
    } else seen.set(line.tag, line.n);
  }
  if (all.filter((l) => l.tag === 'EXTM3U').length > 1) problems.push('#EXTM3U repeats');
}

function declaredVersion(all: Line[], problems: string[]): number {
  const tag = all.find((l) => l.tag === 'EXT-X-VERSION');
  if (!tag) return 1;
  if (!DECIMAL_INTEGER.test(tag.value) || Number(tag.value) < 1) {
    problems.push(`line ${tag.n}: EXT-X-VERSION '${tag.value}' is not a version number`);
    return 1;
  }
  return Number(tag.value);
}

function checkVersion(declared: number, needed: number, why: string[], problems: string[]) {
  if (declared < needed) {
    problems.push(`EXT-X-VERSION ${declared} is below the ${needed} its features need (${why})`);
  } else if (declared > needed) {
    problems.push(
      `EXT-X-VERSION ${declared} is above the ${needed} its features need${why.length ? ` (${why})` : ''}: older players refuse it for nothing`,
    );
  }
}

export interface MediaCheckOptions {
  /**
   * Every segment (other than a gap) carries EXT-X-PROGRAM-DATE-TIME (true, the default), or
   * only the anchors do: the first segment and the first one after each discontinuity or gap
   * (`'anchors'`, as a VOD playlist writes them), or none need to (false).
   */
  readonly programDateTimes?: boolean | 'anchors';
  /**
   * Seconds a date-time may differ from the previous one plus the previous EXTINF when no
   * discontinuity or gap lies between (date-times follow the media timeline). Default 0.002.
   */
  readonly dateTimeTolerance?: number;
  /** EXT-X-INDEPENDENT-SEGMENTS is present (every segment starts with a key frame). Default true. */
  readonly independentSegments?: boolean;
}

/** Problems of a media playlist. */
export function mediaPlaylistProblems(text: string, options: MediaCheckOptions = {}): string[] {
  const problems: string[] = [];
  const all = lines(text);
  commonProblems(all, text, problems);
  for (const line of all) {
    if (line.tag && MULTIVARIANT_ONLY.includes(line.tag)) {
      problems.push(`line ${line.n}: ${line.tag} belongs in a multivariant playlist`);
    }
  }
  const target = all.find((l) => l.tag === 'EXT-X-TARGETDURATION');
  let targetSec = Number.POSITIVE_INFINITY;
  if (!target) problems.push('EXT-X-TARGETDURATION is missing');
  else if (!DECIMAL_INTEGER.test(target.value)) {
    problems.push(`line ${target.n}: EXT-X-TARGETDURATION '${target.value}' is not an integer`);
  } else targetSec = Number(target.value);
  if (
    (options.independentSegments ?? true) &&
    !all.some((l) => l.tag === 'EXT-X-INDEPENDENT-SEGMENTS')
  ) {
    problems.push('EXT-X-INDEPENDENT-SEGMENTS is missing');
  }
  const version = declaredVersion(all, problems);
  const needs: string[] = [];
  let needed = 1;
  const need = (v: number, why: string) => {
    if (!needs.includes(why)) needs.push(why);
    needed = Math.max(needed, v);
  };

  let firstSegmentLine: number | undefined;
  let pending: Line[] = [];
  let extinf: number | undefined;
  let sawDiscontinuity = false;
  /** The last date-time seen, and the segment it belongs to when nothing broke the chain since. */
  let lastPdt: number | undefined;
  let chain: { pdt: number; duration: number } | undefined;
  let segments = 0;
  let endlistAt: number | undefined;
  /** The next segment must be dated under `programDateTimes: 'anchors'`. */
  let anchor = true;
  for (const line of all) {
    if (endlistAt !== undefined && (line.tag === undefined || SEGMENT_TAGS.includes(line.tag))) {
      problems.push(`line ${line.n}: a segment after EXT-X-ENDLIST`);
    }
    if (line.tag === 'EXT-X-ENDLIST') endlistAt = line.n;
    if (
      (line.tag === 'EXT-X-MEDIA-SEQUENCE' || line.tag === 'EXT-X-DISCONTINUITY-SEQUENCE') &&
      firstSegmentLine !== undefined
    ) {
      problems.push(`line ${line.n}: ${line.tag} after the first segment`);
    }
    if (
      (line.tag === 'EXT-X-MEDIA-SEQUENCE' || line.tag === 'EXT-X-DISCONTINUITY-SEQUENCE') &&
      !DECIMAL_INTEGER.test(line.value)
    ) {
      problems.push(`line ${line.n}: ${line.tag} '${line.value}' is not a decimal integer`);
    }
    if (line.tag === 'EXT-X-DISCONTINUITY') sawDiscontinuity = true;
    if (line.tag === 'EXT-X-DISCONTINUITY-SEQUENCE' && sawDiscontinuity) {
      problems.push(`line ${line.n}: EXT-X-DISCONTINUITY-SEQUENCE after an EXT-X-DISCONTINUITY`);
    }
    if (line.tag === 'EXT-X-MAP') {
      const uri = unquote(attributeList(line.value)?.get('URI'));
      if (!uri) problems.push(`line ${line.n}: EXT-X-MAP without a quoted URI`);
      need(all.some((l) => l.tag === 'EXT-X-I-FRAMES-ONLY') ? 5 : 6, 'EXT-X-MAP');
    }
    if (line.tag === 'EXT-X-BYTERANGE') need(4, 'EXT-X-BYTERANGE');
    if (line.tag === 'EXT-X-I-FRAMES-ONLY') need(4, 'EXT-X-I-FRAMES-ONLY');
    if (line.tag === 'EXTINF') {
      if (extinf !== undefined) problems.push(`line ${line.n}: two EXTINF for one segment`);
      const [duration = '', ...title] = line.value.split(',');
      if (title.length === 0)
        problems.push(`line ${line.n}: EXTINF without the comma before its title`);
      if (!DECIMAL_FLOAT.test(duration) || !(Number(duration) > 0)) {
        problems.push(`line ${line.n}: EXTINF duration '${duration}' is not a positive number`);
      } else {
        extinf = Number(duration);
        if (!Number.isInteger(extinf) || duration.includes('.')) need(3, 'decimal EXTINF');
        if (Math.round(extinf) > targetSec) {
          problems.push(
            `line ${line.n}: EXTINF ${duration} rounds above EXT-X-TARGETDURATION ${targetSec}`,
          );
        }
      }
    }
    if (line.tag && SEGMENT_TAGS.includes(line.tag)) {
      firstSegmentLine ??= line.n;
      pending.push(line);
      continue;
    }
    if (line.tag !== undefined) continue;
    // A URI: the media segment the pending tags describe.
    firstSegmentLine ??= line.n;
    segments++;
    const tags = pending;
    pending = [];
    const duration = extinf;
    extinf = undefined;
    if (duration === undefined) {
      problems.push(`line ${line.n}: segment '${line.text}' has no EXTINF`);
      continue;
    }
    const gap = tags.some((t) => t.tag === 'EXT-X-GAP');
    const discontinuity = tags.some((t) => t.tag === 'EXT-X-DISCONTINUITY');
    const pdtTag = tags.find((t) => t.tag === 'EXT-X-PROGRAM-DATE-TIME');
    let pdt: number | undefined;
    if (pdtTag) {
      if (!DATE_TIME.test(pdtTag.value) || Number.isNaN(Date.parse(pdtTag.value))) {
        problems.push(`line ${pdtTag.n}: '${pdtTag.value}' is not a date-time with a time zone`);
      } else pdt = Date.parse(pdtTag.value);
    } else if (
      !gap &&
      ((options.programDateTimes ?? true) === true ||
        (options.programDateTimes === 'anchors' && (anchor || discontinuity)))
    ) {
      problems.push(`line ${line.n}: segment '${line.text}' has no EXT-X-PROGRAM-DATE-TIME`);
    }
    anchor = gap;
    if (pdt !== undefined && lastPdt !== undefined && pdt <= lastPdt) {
      problems.push(`line ${line.n}: program date-time does not rise after the previous one`);
    } else if (pdt !== undefined && chain && !discontinuity) {
      const expected = chain.pdt + chain.duration * 1000;
      const tolerance = (options.dateTimeTolerance ?? 0.002) * 1000;
      if (Math.abs(pdt - expected) > tolerance) {
        problems.push(
          `line ${line.n}: program date-time is ${pdt - chain.pdt} ms after the previous one, whose EXTINF is ${chain.duration} s`,
        );
      }
    }
    if (pdt !== undefined) lastPdt = pdt;
    // A gap (or a segment without a date-time) breaks the chain: the next one may be anchored anew.
    chain = pdt !== undefined && !gap ? { pdt, duration } : undefined;
  }
  if (pending.length > 0) {
    problems.push(
      `line ${pending[0]?.n}: ${pending[0]?.tag} describes no segment (no URI follows)`,
    );
  }
  if (segments === 0 && !all.some((l) => l.tag === 'EXT-X-ENDLIST')) {
    problems.push('a live playlist without segments');
  }
  const type = all.find((l) => l.tag === 'EXT-X-PLAYLIST-TYPE');
  if (type && type.value !== 'VOD' && type.value !== 'EVENT') {
    problems.push(`line ${type.n}: EXT-X-PLAYLIST-TYPE '${type.value}' is neither VOD nor EVENT`);
  }
  if (type?.value === 'VOD' && endlistAt === undefined) {
    problems.push('a VOD playlist without EXT-X-ENDLIST');
  }
  checkVersion(version, needed, needs, problems);
  return problems;
}

/**
 * Problems of a playlist read twice: a VOD playlist never changes, and an EVENT one only grows
 * (segments are added at the end; none changes or leaves).
 */
export function reloadProblems(earlier: string, later: string): string[] {
  const type = lines(earlier).find((l) => l.tag === 'EXT-X-PLAYLIST-TYPE')?.value;
  if (type === 'VOD' && later !== earlier) return ['a VOD playlist changed between two reads'];
  if (type === 'EVENT') {
    const before = lines(earlier).filter((l) => l.tag !== 'EXT-X-ENDLIST');
    const after = lines(later);
    if (before.some((l, i) => after[i]?.text !== l.text)) {
      return ['an EVENT playlist changed more than by segments added at its end'];
    }
  }
  return [];
}

export interface MultivariantCheckOptions {
  /** Variants are video (so RESOLUTION and FRAME-RATE apply). Default true. */
  readonly video?: boolean;
}

/** Problems of a multivariant playlist. */
export function multivariantProblems(
  text: string,
  options: MultivariantCheckOptions = {},
): string[] {
  const problems: string[] = [];
  const all = lines(text);
  commonProblems(all, text, problems);
  for (const line of all) {
    if (line.tag && MEDIA_ONLY.includes(line.tag)) {
      problems.push(`line ${line.n}: ${line.tag} belongs in a media playlist`);
    }
  }
  if (!all.some((l) => l.tag === 'EXT-X-INDEPENDENT-SEGMENTS')) {
    problems.push('EXT-X-INDEPENDENT-SEGMENTS is missing');
  }
  const version = declaredVersion(all, problems);
  const needs: string[] = [];
  let needed = 1;
  const uris = new Set<string>();
  let variants = 0;
  for (const [i, line] of all.entries()) {
    if (line.tag === 'EXT-X-MEDIA' && /INSTREAM-ID="SERVICE/.test(line.value)) {
      needed = Math.max(needed, 7);
      needs.push('INSTREAM-ID SERVICE');
    }
    if (line.tag === 'EXT-X-DEFINE') {
      needed = Math.max(needed, 8);
      needs.push('EXT-X-DEFINE');
    }
    if (line.tag !== 'EXT-X-STREAM-INF') continue;
    variants++;
    const where = `line ${line.n}`;
    const uri = all[i + 1];
    if (!uri || uri.tag !== undefined)
      problems.push(`${where}: EXT-X-STREAM-INF without a URI line after it`);
    else if (uris.has(uri.text)) problems.push(`line ${uri.n}: variant URI '${uri.text}' repeats`);
    else uris.add(uri.text);
    const attributes = attributeList(line.value);
    if (!attributes) {
      problems.push(`${where}: the attribute list does not parse (or repeats a name)`);
      continue;
    }
    const bandwidth = attributes.get('BANDWIDTH');
    const average = attributes.get('AVERAGE-BANDWIDTH');
    if (!bandwidth || !DECIMAL_INTEGER.test(bandwidth) || Number(bandwidth) <= 0) {
      problems.push(`${where}: BANDWIDTH is missing or not a positive integer`);
    }
    if (!average || !DECIMAL_INTEGER.test(average) || Number(average) <= 0) {
      problems.push(`${where}: AVERAGE-BANDWIDTH is missing or not a positive integer`);
    } else if (bandwidth && Number(average) > Number(bandwidth)) {
      problems.push(
        `${where}: AVERAGE-BANDWIDTH ${average} exceeds the peak BANDWIDTH ${bandwidth}`,
      );
    }
    const codecs = unquote(attributes.get('CODECS'));
    if (!attributes.get('CODECS')?.startsWith('"') || !codecs) {
      problems.push(`${where}: CODECS is missing (or not a quoted string)`);
    } else if (
      !codecs.split(',').every((c) => /^[a-zA-Z0-9]{4}(\.[0-9A-Za-z]+)*$/.test(c.trim()))
    ) {
      problems.push(`${where}: CODECS "${codecs}" is not a list of RFC 6381 codec strings`);
    }
    if (options.video ?? true) {
      if (!/^[1-9]\d*x[1-9]\d*$/.test(attributes.get('RESOLUTION') ?? '')) {
        problems.push(`${where}: RESOLUTION is missing or not WIDTHxHEIGHT`);
      }
      const rate = attributes.get('FRAME-RATE');
      if (!rate || !/^\d+(\.\d{1,3})?$/.test(rate) || !(Number(rate) > 0)) {
        problems.push(`${where}: FRAME-RATE is missing or not a rate with at most 3 decimals`);
      }
    }
  }
  if (variants === 0) problems.push('no EXT-X-STREAM-INF variant');
  checkVersion(version, needed, needs, problems);
  return problems;
}

/** Fails with every problem of a media playlist (and the playlist) when there is any. */
export function assertConformantMedia(text: string, options?: MediaCheckOptions): void {
  const problems = mediaPlaylistProblems(text, options);
  assert.deepEqual(
    problems,
    [],
    `media playlist does not conform:\n${problems.join('\n')}\n\n${text}`,
  );
}

/** Fails with every problem of a multivariant playlist (and the playlist) when there is any. */
export function assertConformantMultivariant(
  text: string,
  options?: MultivariantCheckOptions,
): void {
  const problems = multivariantProblems(text, options);
  assert.deepEqual(
    problems,
    [],
    `multivariant playlist does not conform:\n${problems.join('\n')}\n\n${text}`,
  );
}
