import { PROFILE_NAMES, PROFILES, type ProfileName } from './profiles.js';
import type { AdaptationInput } from './quality.js';
import type { ViewerSession } from './viewer-session.js';

/** What adaptationInput reads of a rendition's window (SegmentWindow has it). */
export interface NewestSegment {
  readonly newest: { readonly data: { readonly byteLength: number } } | undefined;
}

/**
 * Everything the server knows of a viewer, as its adaptation policy reads it: the profile to
 * decide from (the server's last choice, unless the player picks its own), buffer health, the buffer length the player reported (or the server's estimate
 * for a steered player that reports none), the player's throughput samples, and the real size
 * of each rendition's newest segment (what the next download costs: a live player fetches at
 * the edge, and the encoder's sizes swing around the nominal bitrate).
 */
export function adaptationInput(
  session: ViewerSession,
  window: (profile: ProfileName) => NewestSegment,
  now: number,
  current: ProfileName = session.targetBitrate,
): AdaptationInput {
  return new ViewerAdaptationInput(session, window, now, current);
}

/** A class rather than a literal with a getter: one is made for every report a player sends. */
class ViewerAdaptationInput implements AdaptationInput {
  readonly bufferHealth: number;
  readonly bufferSec: number | undefined;
  readonly throughputKbps: readonly number[];
  readonly segmentDurationSec: number;
  private sizes: Partial<Record<ProfileName, number>> | undefined;

  constructor(
    session: ViewerSession,
    private readonly window: (profile: ProfileName) => NewestSegment,
    now: number,
    readonly current: ProfileName,
  ) {
    this.bufferHealth = session.bufferHealth;
    this.bufferSec = session.bufferSec ?? session.estimatedBufferSec(now);
    this.throughputKbps = session.throughputSamples;
    this.segmentDurationSec = PROFILES[current].segmentDurationSec;
  }

  /** Read only by policies that weigh throughput, and only when there is some: built on demand. */
  get nextSegmentKbit(): Partial<Record<ProfileName, number>> {
    this.sizes ??= newestSizes(this.window);
    return this.sizes;
  }
}

function newestSizes(
  window: (profile: ProfileName) => NewestSegment,
): Partial<Record<ProfileName, number>> {
  const kbit: Partial<Record<ProfileName, number>> = {};
  for (const name of PROFILE_NAMES) {
    const bytes = window(name).newest?.data.byteLength;
    if (bytes !== undefined && bytes > 0) kbit[name] = (bytes * 8) / 1000;
  }
  return kbit;
}
