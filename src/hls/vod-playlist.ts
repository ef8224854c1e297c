import HLS from 'hls-parser';
import type { MediaInfo } from '../core/media-info.js';
import type { ProfileName } from '../core/profiles.js';
import { mediaPlaylistText } from './media-playlist-text.js';
import { type BandwidthSample, bandwidthOf, writeVariants } from './multivariant-playlist.js';
import { mediaPlaylistVersion } from './playlist-version.js';

const { MediaPlaylist, Segment: HlsSegment, MediaInitializationSection } = HLS.types;

/**
 * Playlists of a recording (live to VOD, README "Recordings"): every segment a stream kept, from
 * the first to the last, across encoder restarts, in a playlist that never changes once written.
 */

/** One entry of a recording's rendition, oldest first, as its stored record describes it. */
export interface VodSegment {
  /** URI of the segment as listed (or of the lost number, for a gap). */
  readonly uri: string;
  /** Media sequence number within its incarnation. */
  readonly sequence: number;
  readonly durationSec: number;
  /** True when the encoder restarted before this segment. */
  readonly discontinuity: boolean;
  /** Wall-clock time of its first frame (ms since the epoch). */
  readonly programDateTime: number;
  /** The stream incarnation it belongs to: a change starts a new timeline (a discontinuity). */
  readonly incarnation?: string | undefined;
  /** URI of the fMP4 initialization section it needs (EXT-X-MAP); none for MPEG-TS. */
  readonly initUri?: string | undefined;
  /** A number the rendition lost (EXT-X-GAP): listed so the time it covered stays in place. */
  readonly gap?: boolean | undefined;
}

export interface VodMediaPlaylistInput {
  readonly segments: readonly VodSegment[];
}

/**
 * A VOD media playlist: EXT-X-PLAYLIST-TYPE:VOD and EXT-X-ENDLIST; EXT-X-TARGETDURATION the
 * longest EXTINF rounded (fixed, as the playlist never changes); EXT-X-MEDIA-SEQUENCE of the
 * first entry and discontinuity sequence 0; EXT-X-DISCONTINUITY wherever the timeline breaks
 * (the encoder restarted, the incarnation changed, or numbers jumped with no gap entries to fill
 * them); EXT-X-MAP wherever the init section changes; EXT-X-PROGRAM-DATE-TIME on the first
 * segment and again after every discontinuity or gap (players count the rest from the
 * durations, and a playlist of hours stays small); the lowest EXT-X-VERSION its features allow.
 */
export function writeVodMediaPlaylist(input: VodMediaPlaylistInput): string {
  const entries: InstanceType<typeof HlsSegment>[] = [];
  let decimalDurations = false;
  let initSections = false;
  let longest = 0;
  let anchor = true;
  let previous: VodSegment | undefined;
  for (const segment of input.segments) {
    const discontinuity = previous !== undefined && timelineBreaks(previous, segment);
    anchor ||= discontinuity;
    const dated = anchor && segment.gap !== true;
    if (dated) anchor = false;
    if (segment.gap === true) anchor = true;
    decimalDurations ||= !Number.isInteger(segment.durationSec);
    initSections ||= segment.initUri !== undefined;
    longest = Math.max(longest, segment.durationSec);
    entries.push(
      new HlsSegment({
        uri: segment.uri,
        duration: segment.durationSec,
        discontinuity,
        gap: segment.gap === true,
        ...(dated && { programDateTime: new Date(segment.programDateTime) }),
        // hls-parser writes EXT-X-MAP only where the URI differs from the one before.
        ...(segment.initUri !== undefined && {
          map: new MediaInitializationSection({ uri: segment.initUri }),
        }),
      }),
    );
    previous = segment;
  }
  const version = mediaPlaylistVersion({ decimalDurations, initSections });
  const playlist = new MediaPlaylist({
    version,
    independentSegments: true,
    // A target below 1 s cannot be written (it is an integer), and an empty recording has none.
    targetDuration: Math.max(1, Math.round(longest)),
    mediaSequenceBase: input.segments[0]?.sequence ?? 0,
    discontinuitySequenceBase: 0,
    playlistType: 'VOD',
    endlist: true,
    segments: entries,
  });
  return mediaPlaylistText(playlist, version);
}

/** Whether `next` starts a new timeline after `previous` (EXT-X-DISCONTINUITY before it). */
function timelineBreaks(previous: VodSegment, next: VodSegment): boolean {
  return (
    next.discontinuity ||
    next.incarnation !== previous.incarnation ||
    // Numbers that jump (none listed as gaps) or run back: the media between is not there.
    next.sequence !== previous.sequence + 1
  );
}

/** A rendition of a recording as its VOD multivariant playlist lists it. */
export interface VodRendition {
  readonly profile: ProfileName;
  /** Nominal video bitrate, used only when the rendition kept no segment to measure. */
  readonly nominalKbps: number;
  /** Size and duration of every segment it kept (gaps have no bytes and are left out). */
  readonly segments: Iterable<BandwidthSample>;
  readonly media: MediaInfo | undefined;
  readonly uri: string;
}

/**
 * The VOD multivariant playlist: as the live one (FIRST_VARIANT first, RESOLUTION, FRAME-RATE,
 * CODECS), with BANDWIDTH and AVERAGE-BANDWIDTH measured over the whole recording.
 */
export function writeVodMultivariantPlaylist(renditions: readonly VodRendition[]): string {
  return writeVariants(renditions.map((r) => ({ ...r, measured: bandwidthOf(r.segments) })));
}
