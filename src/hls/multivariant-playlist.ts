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

/** Peak and average bits per second of a rendition, measured from its segments. */
export function measuredBandwidth(
  segments: readonly Segment[],
): { peak: number; average: number } | undefined {
  let peak = 0;
  let bits = 0;
  let seconds = 0;
  for (const s of segments) {
    const rate = (s.data.byteLength * 8) / s.durationSec;
    if (rate > peak) peak = rate;
    bits += s.data.byteLength * 8;
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

/**
 * The multivariant playlist: one variant per rendition, FIRST_VARIANT first and the others from
 * the lowest up, with BANDWIDTH (peak segment bitrate) and AVERAGE-BANDWIDTH measured from the
 * segments in the window, and RESOLUTION, FRAME-RATE and CODECS as probed from the media.
 */
export function writeMultivariantPlaylist(renditions: readonly RenditionSummary[]): string {
  const ordered = [
    ...renditions.filter((r) => r.profile === FIRST_VARIANT),
    ...renditions.filter((r) => r.profile !== FIRST_VARIANT),
  ];
  const variants = ordered.map((r) => {
    const measured = measuredBandwidth(r.segments);
    const media = r.media;
    return new Variant({
      uri: r.uri,
      bandwidth: measured?.peak ?? r.nominalKbps * 1000,
      averageBandwidth: measured?.average,
      codecs: media?.codecs,
      resolution:
        media?.width && media.height ? { width: media.width, height: media.height } : undefined,
      frameRate: media?.frameRate,
    });
  });
  return HLS.stringify(
    new MasterPlaylist({ version: MULTIVARIANT_VERSION, independentSegments: true, variants }),
  );
}
