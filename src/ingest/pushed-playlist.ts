import HLS from 'hls-parser';
import type { PlaylistEntry } from './segment-assembler.js';

export class PlaylistParseError extends Error {}

/** Largest segment duration accepted from an encoder, in seconds. */
const MAX_SEGMENT_DURATION = 60;

/**
 * Reads the segment entries of a media playlist an encoder pushed (hls-parser does the
 * parsing). File names are the last path component of each URI.
 */
export function parsePushedPlaylist(text: string): { entries: PlaylistEntry[]; ended: boolean } {
  let playlist: ReturnType<typeof HLS.parse>;
  try {
    playlist = HLS.parse(text);
  } catch (error) {
    throw new PlaylistParseError(
      `not a valid HLS playlist: ${error instanceof Error ? error.message : error}`,
    );
  }
  if (playlist.isMasterPlaylist)
    throw new PlaylistParseError('expected a media playlist, got a multivariant one');
  const media = playlist as InstanceType<typeof HLS.types.MediaPlaylist>;
  const entries = media.segments.map((segment) => {
    if (!(segment.duration > 0 && segment.duration <= MAX_SEGMENT_DURATION)) {
      throw new PlaylistParseError(`segment ${segment.uri} has duration ${segment.duration}`);
    }
    return {
      file: baseName(segment.uri),
      encoderSequence: segment.mediaSequenceNumber,
      durationSec: segment.duration,
      discontinuity: segment.discontinuity === true,
      mapFile: segment.map ? baseName(segment.map.uri) : undefined,
    };
  });
  return { entries, ended: media.endlist };
}

function baseName(uri: string): string {
  const path = uri.split(/[?#]/, 1)[0] ?? '';
  return path.slice(path.lastIndexOf('/') + 1);
}
