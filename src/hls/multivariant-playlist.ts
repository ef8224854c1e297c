import HLS from 'hls-parser';
import type { MediaInfo } from '../core/media-info.js';
import type { ProfileName } from '../core/profiles.js';
import type { Segment } from '../core/segment.js';
import { MULTIVARIANT_VERSION } from './playlist-version.js';

const { MasterPlaylist, Variant } = HLS.types;

export interface RenditionSummary {
  readonly profile: ProfileName;
  /** Nominal video bitrate, used only until segments exist to measure. */
  readonly nominalKbps: number;
  readonly segments: readonly Segment[];
  readonly media: MediaInfo | undefined;
  readonly uri: string;
}

/** One segment as bandwidth measurement sees it: its size and its duration. */
export interface BandwidthSample {
  readonly bytes: number;
  readonly durationSec: number;
}

/** Peak and average bits per second of segments (live window or whole recording). */
export interface MeasuredBandwidth {
  readonly peak: number;
  readonly average: number;
}

/** Peak and average bits per second of a rendition, measured from its segments. */
export function measuredBandwidth(segments: readonly Segment[]): MeasuredBandwidth | undefined {
  return bandwidthOf(
    segments.map((s) => ({ bytes: s.data.byteLength, durationSec: s.durationSec })),
  );
}

/** Peak (of one segment) and average bits per second of `samples`; undefined when there are none. */
export function bandwidthOf(samples: Iterable<BandwidthSample>): MeasuredBandwidth | undefined {
  let peak = 0;
  let bits = 0;
  let seconds = 0;
  for (const s of samples) {
    const rate = (s.bytes * 8) / s.durationSec;
    if (rate > peak) peak = rate;
    bits += s.bytes * 8;
    seconds += s.durationSec;
  }
  return seconds > 0 ? { peak: Math.ceil(peak), average: Math.ceil(bits / seconds) } : undefined;
}

/**
 * The rendition listed first. Players that do not measure before they start (hls.js without a
 * start level, Safari, many TVs) begin with the first variant listed: Medium is a good start on
 * most connections, and adaptation then corrects it either way; the lowest would show every
 * viewer the worst picture for the first segments.
 */
export const FIRST_VARIANT: ProfileName = 'Medium';

/** A variant as the multivariant playlist lists it (live or VOD). */
export interface VariantSummary {
  readonly profile: ProfileName;
  /** Nominal video bitrate, used only when there is nothing to measure. */
  readonly nominalKbps: number;
  readonly measured: MeasuredBandwidth | undefined;
  readonly media: MediaInfo | undefined;
  readonly uri: string;
}

/**
 * The multivariant playlist: one variant per rendition, FIRST_VARIANT first and the others from
 * the lowest up, with BANDWIDTH (peak segment bitrate) and AVERAGE-BANDWIDTH measured from the
 * segments in the window, and RESOLUTION, FRAME-RATE and CODECS as probed from the media.
 */
export function writeMultivariantPlaylist(renditions: readonly RenditionSummary[]): string {
  return writeVariants(renditions.map((r) => ({ ...r, measured: measuredBandwidth(r.segments) })));
}

/** The multivariant playlist of `variants`, FIRST_VARIANT first and the others in order. */
export function writeVariants(variants: readonly VariantSummary[]): string {
  const ordered = [
    ...variants.filter((r) => r.profile === FIRST_VARIANT),
    ...variants.filter((r) => r.profile !== FIRST_VARIANT),
  ];
  const listed = ordered.map((r) => {
    const media = r.media;
    return new Variant({
      uri: r.uri,
      bandwidth: r.measured?.peak ?? r.nominalKbps * 1000,
      averageBandwidth: r.measured?.average,
      codecs: media?.codecs,
      resolution:
        media?.width && media.height ? { width: media.width, height: media.height } : undefined,
      frameRate: media?.frameRate,
    });
  });
  return HLS.stringify(
    new MasterPlaylist({
      version: MULTIVARIANT_VERSION,
      independentSegments: true,
      variants: listed,
    }),
  );
}
