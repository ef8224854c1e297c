import HLS from 'hls-parser';
import type { PlaylistEntry } from './segment-assembler.js';

export class PlaylistParseError extends Error {}

/** Largest and smallest segment durations accepted from an encoder, in seconds. */
const MAX_SEGMENT_DURATION = 60;
// Playlists print durations to the millisecond: anything shorter would be served as EXTINF:0.
const MIN_SEGMENT_DURATION = 0.001;

// Malformed pushes are answered with a 400; hls-parser must not also print each to stderr,
// where any pusher could flood the server's log outside its JSON lines.
HLS.setOptions({ silent: true });

/**
 * Reads the segment entries of a media playlist an encoder pushed (hls-parser does the
 * parsing). File names are the last path component of each URI. More than `maxEntries`
 * entries are refused before the parser runs (its cost grows with every line).
 */
export function parsePushedPlaylist(
  text: string,
  maxEntries = Number.POSITIVE_INFINITY,
): { entries: PlaylistEntry[]; ended: boolean; targetDurationSec: number | undefined } {
  if (countEntries(text, maxEntries) > maxEntries) {
    throw new PlaylistParseError(`playlist lists more than ${maxEntries} segments`);
  }
  // hls-parser reads 'x' as 0 and '12abc' as 12; an encoder's sequence is digits only.
  const sequenceTag = /^#EXT-X-MEDIA-SEQUENCE:(.*)$/m.exec(text);
  if (sequenceTag && !/^\d+\s*$/.test(sequenceTag[1] ?? '')) {
    throw new PlaylistParseError(
      `EXT-X-MEDIA-SEQUENCE '${sequenceTag[1]?.slice(0, 40)}' is not a whole number`,
    );
  }
  let playlist: ReturnType<typeof HLS.parse>;
  try {
    playlist = HLS.parse(text);
  } catch {
    // Silenced, hls-parser refuses nothing itself: what it throws is its own code tripping over
    // the text (a URI before any tag: "Cannot destructure property 'name' of 'mapTo(...)'"),
    // which says nothing to the encoder and much about the server's insides.
    throw new PlaylistParseError('not a valid HLS playlist');
  }
  if (playlist.isMasterPlaylist)
    throw new PlaylistParseError('expected a media playlist, got a multivariant one');
  const media = playlist as InstanceType<typeof HLS.types.MediaPlaylist>;
  // Sequence numbers become segment ids and window order: 1e30 would print as '1e+30'.
  if (!isSequence(media.mediaSequenceBase ?? 0)) {
    throw new PlaylistParseError(
      `EXT-X-MEDIA-SEQUENCE ${media.mediaSequenceBase} is not a whole number from 0 to ${Number.MAX_SAFE_INTEGER}`,
    );
  }
  const entries = media.segments.map((segment) => {
    if (
      !(
        Number.isFinite(segment.duration) &&
        segment.duration >= MIN_SEGMENT_DURATION &&
        segment.duration <= MAX_SEGMENT_DURATION
      )
    ) {
      throw new PlaylistParseError(`segment ${segment.uri} has duration ${segment.duration}`);
    }
    if (!isSequence(segment.mediaSequenceNumber)) {
      throw new PlaylistParseError(
        `segment ${segment.uri} has media sequence ${segment.mediaSequenceNumber}, not a whole number from 0 to ${Number.MAX_SAFE_INTEGER}`,
      );
    }
    return {
      file: fileName(segment.uri, 'segment URI'),
      encoderSequence: segment.mediaSequenceNumber,
      durationSec: segment.duration,
      discontinuity: segment.discontinuity === true,
      mapFile: segment.map ? fileName(segment.map.uri, 'EXT-X-MAP URI') : undefined,
    };
  });
  const target = media.targetDuration;
  return {
    entries,
    ended: media.endlist,
    // A hint only (the stream's target is fixed by its own rule): anything odd counts as absent.
    targetDurationSec: Number.isFinite(target) && target > 0 ? target : undefined,
  };
}

/** Counts #EXTINF tags, stopping once past `stopAfter`: a cheap scan, no parsing. */
export function countEntries(text: string, stopAfter = Number.POSITIVE_INFINITY): number {
  let count = 0;
  for (let at = text.indexOf('#EXTINF'); at !== -1; at = text.indexOf('#EXTINF', at + 7)) {
    if (++count > stopAfter) break;
  }
  return count;
}

function isSequence(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}

/** The last path component of a URI; a URI without one names no file an encoder could push. */
function fileName(uri: string | undefined, what: string): string {
  const path = (uri ?? '').split(/[?#]/, 1)[0] ?? '';
  const name = path.slice(path.lastIndexOf('/') + 1);
  if (name === '') throw new PlaylistParseError(`${what} '${uri ?? ''}' names no file`);
  return name;
}
